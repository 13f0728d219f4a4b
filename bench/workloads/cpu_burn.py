"""The pure-Python CPU burner shared by W4 and its baseline, so both run the same code.

``LOOPS`` was calibrated once to take about 1.5 s on the 2-core reference machine; re-check
it with ``python bench/workloads/cpu_burn.py``, which times one call.
"""

from __future__ import annotations

LOOPS = 25_000_000


def burn(seed: int, loops: int = LOOPS) -> int:
    """A fixed amount of pure-Python arithmetic (holds the GIL throughout)."""
    x = seed
    for i in range(loops):
        x = (x * 31 + i) % 1_000_003
    return x


if __name__ == "__main__":
    import time

    wall, cpu = time.perf_counter(), time.process_time()
    burn(0)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    # CPU time is the figure to calibrate on: wall time also counts other processes' turns.
    print(f"burn(0) with LOOPS={LOOPS:,}: {cpu:.3f} s CPU, {wall:.3f} s wall")
