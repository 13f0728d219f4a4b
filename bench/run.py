"""Time dagwell against plain Python on workloads W0-W4 and print the table of targets.

    .venv/bin/python bench/run.py                  # everything (a few minutes)
    .venv/bin/python bench/run.py --only W1,W3 --repeat 3

Each measurement is a whole process timed from outside: dagwell through its real command
line (``dagwell run FILE -q --workers 2``, the process executor, every run recorded in
SQLite and the artifact store), the baseline as a plain ``python`` script. W5, the Dask
executor against plain ``Client.submit`` on one LocalCluster, is the exception: it is
timed inside one process, by ``bench/dask_overhead.py``. Every invocation
gets a fresh scratch folder (``DAGWELL_HOME`` and ``TMPDIR`` inside it); workloads run
round-robin and dagwell and baseline runs alternate, so that a change in machine load hits
everything alike. Absolute seconds drift; the ratios and marginal costs printed are what to
compare. Raw figures go to ``.bench/results.json``. The workloads and targets are described
in ``bench/README.md``.

W3-S3 is W3 with the artifact store on S3: the bench starts moto's S3 server (from the
``dev`` extra) on 127.0.0.1 and gives every invocation, dagwell's and the baseline's, a fresh
``s3://`` prefix on it, emptied afterwards. The server shares the machine's cores.
"""

from __future__ import annotations

import argparse
import compileall
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
RESULTS = ROOT / ".bench" / "results.json"
WORKERS = 2
WIDTH, DEPTH = 500, 200  # tasks in W1 and W2, for the marginal cost per task
MIB = 1024 * 1024
# "run 1a2b3c succeeded in 0.87s": dagwell's own clock from run start to run end.
_RUN_LINE = re.compile(r"run \S+ (\w+) in ([0-9.]+)s")


@dataclass(frozen=True)
class Workload:
    """One workload: the dagwell pipeline file, its plain-Python twin, and how often to time."""

    id: str
    what: str
    pipeline: str
    baseline: str
    repeat: int = 5
    dask: bool = False  # timed inside one process by bench/dask_overhead.py (W5)
    s3: bool = False  # the artifact store on the bench's S3 server, not on local disk


WORKLOADS = [
    Workload("W0", "start-up, 1 no-op", "w0_noop.py", "b0_noop.py"),
    Workload("W1", f"wide, {WIDTH} + sum", "w1_wide.py", "b1_wide.py"),
    Workload("W2", f"deep, chain of {DEPTH}", "w2_deep.py", "b2_deep.py"),
    Workload("W3", "200 MB array", "w3_heavy.py", "b3_heavy.py"),
    Workload(
        "W3-S3", "200 MB array, S3 (moto)", "w3_heavy.py", "b3_heavy_s3.py", repeat=3, s3=True
    ),
    Workload("W4", "CPU, 4 x 1.5 s / 2", "w4_cpu.py", "b4_cpu.py", repeat=3),
    Workload("W5", f"Dask, {WIDTH} + sum", "w1_wide.py", "dask_overhead.py", dask=True),
]
DASK_IN_FLIGHT = 2 * WORKERS  # calls dagwell's runner keeps submitted: two per worker


@dataclass(frozen=True)
class Sample:
    """One timed process (or W5 phase): wall seconds, peak RSS if measured, exit code."""

    seconds: float
    peak_mib: float | None
    returncode: int
    run_seconds: float | None = None  # what `dagwell run` itself reports, if it did
    output_tail: str = ""


@dataclass
class Side:
    """The samples of one side (dagwell or baseline) of one workload."""

    command: list[str]
    samples: list[Sample] = field(default_factory=list)
    error: str | None = None

    @property
    def median(self) -> float | None:
        """Median wall seconds of the timed runs, or None if there are none or one failed."""
        if self.error or not self.samples:
            return None
        return statistics.median(s.seconds for s in self.samples)

    @property
    def peak_mib(self) -> float | None:
        """Highest peak RSS seen over the timed runs (None when not measured, as in W5)."""
        if self.error or not self.samples:
            return None
        return max((s.peak_mib for s in self.samples if s.peak_mib is not None), default=None)


@dataclass
class Result:
    """Both sides of one workload; W5 adds W0 on Dask and Dask with a runner's window."""

    workload: Workload
    dagwell: Side
    baseline: Side
    extra: dict[str, Side] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        """dagwell median / baseline median."""
        return _divide(self.dagwell.median, self.baseline.median)

    @property
    def peak_ratio(self) -> float | None:
        """dagwell peak RSS / baseline peak RSS."""
        return _divide(self.dagwell.peak_mib, self.baseline.peak_mib)


def _divide(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


# -- measuring ---------------------------------------------------------------------------


def measure(
    command: list[str], scratch_root: Path, extra_env: Mapping[str, str] | None = None
) -> Sample:
    """Run ``command`` once in a fresh scratch folder; time it and read its peak RSS.

    ``extra_env`` is added to its environment (where the S3 workload keeps artifacts).

    The peak comes from ``os.wait4``: Linux reports the larger of the process's own
    ``ru_maxrss`` and that of every descendant it waited for (dagwell's workers, the
    process pool's), so it is the largest single process of the tree, not a sum.
    """
    scratch = Path(tempfile.mkdtemp(prefix="run-", dir=scratch_root))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGWELL_")}
    env.update(DAGWELL_HOME=str(scratch / "home"), TMPDIR=str(scratch))
    env.update(extra_env or {})
    try:
        with tempfile.TemporaryFile(dir=scratch_root) as output:
            start = time.perf_counter()
            proc = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
            )
            _, status, usage = os.wait4(proc.pid, 0)
            seconds = time.perf_counter() - start
            proc.returncode = os.waitstatus_to_exitcode(status)  # reaped: Popen must not wait
            output.seek(0)
            text = output.read().decode(errors="replace")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    found = _RUN_LINE.search(text)
    return Sample(
        seconds=seconds,
        peak_mib=usage.ru_maxrss * 1024 / MIB,  # ru_maxrss is in KiB on Linux
        returncode=proc.returncode,
        run_seconds=float(found.group(2)) if found else None,
        output_tail=text[-2000:] if proc.returncode else "",
    )


def dagwell_command(workload: Workload) -> list[str]:
    """``dagwell run bench/workloads/FILE -q --workers 2`` from this interpreter's venv."""
    exe = Path(sys.executable).parent / "dagwell"
    if not exe.exists():
        exe = ROOT / ".venv" / "bin" / "dagwell"
    target = f"bench/workloads/{workload.pipeline}"
    return [str(exe), "run", target, "-q", "--workers", str(WORKERS)]


def baseline_command(workload: Workload) -> list[str]:
    """``python bench/baselines/FILE`` with this interpreter."""
    return [sys.executable, f"bench/baselines/{workload.baseline}"]


def run_all(
    workloads: list[Workload], repeat: int | None, warmup: int, console: Console
) -> list[Result]:
    """Measure every workload, round-robin, each round alternating dagwell and baseline.

    Round-robin (W0, W1, ... W4, then again) rather than workload after workload, so that a
    change in machine load lands on every workload alike: the marginal costs subtract W0
    from W1 and W2, and would otherwise subtract two different moments of the machine.
    """
    scratch_root = Path(tempfile.mkdtemp(prefix="dagwell-bench-"))
    results = [Result(w, Side(dagwell_command(w)), Side(baseline_command(w))) for w in workloads]
    s3 = S3Server.start(scratch_root) if any(w.s3 for w in workloads) else None
    plan = _plan([r for r in results if not r.workload.dask], repeat, warmup)
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=console) as progress:
            bar = progress.add_task("starting", total=len(plan))
            for result, name, side, kind, number in plan:
                label = f"{result.workload.id} {name:<8} {kind} {number}"
                progress.update(bar, description=label)
                if side.error is None:
                    place = s3.fresh_place() if s3 is not None and result.workload.s3 else {}
                    try:
                        sample = measure(side.command, scratch_root, place)
                    finally:
                        if s3 is not None and place:
                            s3.remove(place)
                    _log(progress.console, label, sample)
                    if sample.returncode != 0:
                        side.error = f"exit code {sample.returncode}"
                        progress.console.print(sample.output_tail, markup=False)
                    elif kind == "run":
                        side.samples.append(sample)
                progress.advance(bar)
            for result in results:
                if result.workload.dask:
                    progress.update(bar, description=f"{result.workload.id} (one process)")
                    measure_dask(result, repeat, warmup, scratch_root, progress.console)
            progress.update(bar, description="done")
    finally:
        if s3 is not None:
            s3.stop()
        shutil.rmtree(scratch_root, ignore_errors=True)
    return results


@dataclass
class S3Server:
    """moto's S3 server on 127.0.0.1 with one bucket, for the workloads with ``s3=True``."""

    process: subprocess.Popen[bytes]
    endpoint: str
    bucket: str = "dagwell-bench"
    credentials: Mapping[str, str] = field(
        default_factory=lambda: {
            "AWS_ACCESS_KEY_ID": "dagwell-bench",
            "AWS_SECRET_ACCESS_KEY": "dagwell-bench-secret",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )

    @classmethod
    def start(cls, folder: Path) -> S3Server:
        """Start the server on a free port (big objects spill to files in ``folder``)."""
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "TMPDIR": str(folder)},
        )
        server = cls(process, f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    server.stop()
                    raise SystemExit(
                        "moto's S3 server did not start; install it with "
                        "pip install 'moto[server]' (in the dev extra), or leave out W3-S3"
                    ) from None
                time.sleep(0.1)
        server._filesystem().mkdir(server.bucket)
        return server

    def fresh_place(self) -> dict[str, str]:
        """The variables that send one invocation's artifacts to a new, empty prefix."""
        return {
            **self.credentials,
            "DAGWELL_ARTIFACTS": f"s3://{self.bucket}/{uuid.uuid4().hex}",
            "DAGWELL_S3_ENDPOINT": self.endpoint,
        }

    def remove(self, place: Mapping[str, str]) -> None:
        """Delete what one invocation wrote, so the server's memory stays small."""
        fs = self._filesystem()
        prefix = place["DAGWELL_ARTIFACTS"]
        if fs.exists(prefix):
            fs.rm(prefix, recursive=True)

    def stop(self) -> None:
        """Stop the server."""
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def _filesystem(self) -> Any:
        import s3fs

        return s3fs.S3FileSystem(
            key=self.credentials["AWS_ACCESS_KEY_ID"],
            secret=self.credentials["AWS_SECRET_ACCESS_KEY"],
            client_kwargs={"endpoint_url": self.endpoint},
            skip_instance_cache=True,
            use_listings_cache=False,
        )


def measure_dask(
    result: Result, repeat: int | None, warmup: int, scratch_root: Path, console: Console
) -> None:
    """W5: run ``bench/dask_overhead.py`` once; its timed rounds become the samples.

    It starts one LocalCluster and alternates, round after round, ``dw.run`` of W1 and of
    W0 on it (the executor joining it by address) with the same 500 calls made with plain
    ``Client.submit``, all at once and with at most DASK_IN_FLIGHT in flight.
    """
    command = [sys.executable, f"bench/{result.workload.baseline}"]
    command += ["--repeat", str(repeat or result.workload.repeat), "--warmup", str(warmup)]
    result.dagwell.command = result.baseline.command = command
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGWELL_")}
    env["TMPDIR"] = str(scratch_root)
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    for line in done.stderr.splitlines():
        if re.match(r"(dagwell_w[01]|raw\w*) ", line):
            console.print(f"[dim]{result.workload.id} {line}[/]", highlight=False)
    if done.returncode != 0:
        result.dagwell.error = result.baseline.error = f"exit code {done.returncode}"
        console.print(done.stderr[-2000:], markup=False)
        return
    seconds = json.loads(done.stdout.strip().splitlines()[-1])["seconds"]

    def side(name: str) -> Side:
        return Side(command, [Sample(s, None, 0) for s in seconds[name]])

    result.dagwell.samples = side("dagwell_w1").samples
    result.baseline.samples = side("raw").samples
    result.extra = {"dagwell W0": side("dagwell_w0"), "raw windowed": side("raw_windowed")}


def _plan(
    results: list[Result], repeat: int | None, warmup: int
) -> list[tuple[Result, str, Side, str, int]]:
    """Every measurement in order: warm-up rounds, then timed rounds, workloads interleaved."""
    if not results:
        return []
    most = max(repeat or r.workload.repeat for r in results)
    rounds = [("warm-up", i) for i in range(warmup)] + [("run", i) for i in range(most)]
    plan = []
    for kind, i in rounds:
        for result in results:
            if kind == "run" and i >= (repeat or result.workload.repeat):
                continue  # W4 runs fewer rounds than the others
            for name, side in (("dagwell", result.dagwell), ("baseline", result.baseline)):
                plan.append((result, name, side, kind, i + 1))
    return plan


def _log(console: Console, label: str, sample: Sample) -> None:
    own = f" (run {sample.run_seconds:.2f} s)" if sample.run_seconds is not None else ""
    failed = f" [red]exit {sample.returncode}[/]" if sample.returncode else ""
    console.print(
        f"[dim]{label:<26} {sample.seconds:7.3f} s{own:<16} {sample.peak_mib:6.0f} MiB[/]{failed}"
    )


# -- judging -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """One target checked: what was required, the figure, and whether it was met."""

    figure: str
    target: str
    value: float | None
    limit: float
    stretch: float | None = None

    @property
    def met(self) -> bool | None:
        """True, False, or None when the figure is missing or negative (noise, W1/W2 < W0)."""
        return None if self.value is None or self.value < 0 else self.value <= self.limit

    @property
    def stretch_met(self) -> bool:
        """True when the stretch goal is met as well."""
        value, stretch = self.value, self.stretch
        return bool(self.met) and value is not None and stretch is not None and value <= stretch


def marginal_ms(results: dict[str, Result], wid: str, tasks: int) -> float | None:
    """dagwell's (W1 - W0) / 500 or (W2 - W0) / 200, in milliseconds per task."""
    if wid not in results or "W0" not in results:
        return None
    top, base = results[wid].dagwell.median, results["W0"].dagwell.median
    return None if top is None or base is None else (top - base) / tasks * 1000


def dask_ms_per_task(result: Result) -> dict[str, float | None]:
    """W5 per task: dagwell's (W1 - W0 on Dask) / 500, and Dask's own, in milliseconds."""
    w0 = result.extra.get("dagwell W0")
    windowed = result.extra.get("raw windowed")
    top, base = result.dagwell.median, w0.median if w0 is not None else None
    raw, window = result.baseline.median, windowed.median if windowed is not None else None
    return {
        "dagwell": None if top is None or base is None else (top - base) / WIDTH * 1000,
        "raw": None if raw is None else raw / WIDTH * 1000,
        "raw windowed": None if window is None else window / WIDTH * 1000,
    }


def verdicts(results: dict[str, Result]) -> dict[str, list[Verdict]]:
    """The targets of WORKLOADS.md for every workload measured."""
    out: dict[str, list[Verdict]] = {}
    if "W0" in results:
        w0 = results["W0"].dagwell.median
        out["W0"] = [Verdict("start-up", "≤ 0.5 s (stretch 0.3)", w0, 0.5, 0.3)]
    for wid, tasks in (("W1", WIDTH), ("W2", DEPTH)):
        if wid in results:
            value = marginal_ms(results, wid, tasks)
            out[wid] = [Verdict("marginal", "≤ 0.5 ms/task (stretch 0.2)", value, 0.5, 0.2)]
    # W3-S3 has no target: its figure shows what a remote store costs against s3fs by hand.
    if "W3" in results:
        w3 = results["W3"]
        out["W3"] = [
            Verdict("time", "≤ 2.0x npy (stretch 1.5x)", w3.ratio, 2.0, 1.5),
            Verdict("memory", "peak ≤ 1.5x npy", w3.peak_ratio, 1.5),
        ]
    if "W4" in results:
        out["W4"] = [
            Verdict("time", "≤ 1.10x pool (stretch 1.05x)", results["W4"].ratio, 1.10, 1.05)
        ]
    if "W5" in results:
        per_task = dask_ms_per_task(results["W5"])
        ratio = _divide(per_task["dagwell"], per_task["raw"])
        out["W5"] = [Verdict("per task", "≤ 2x raw Dask per task", ratio, 2.0)]
    return out


# -- reporting ---------------------------------------------------------------------------


def render(results: dict[str, Result], checks: dict[str, list[Verdict]]) -> Table:
    """The table WORKLOADS.md asks for."""
    table = Table(title="dagwell vs plain Python (median wall seconds, whole processes)")
    table.add_column("workload", no_wrap=True)
    table.add_column("dagwell median s", justify="right")
    table.add_column("baseline median s", justify="right")
    table.add_column("ratio", justify="right")
    table.add_column("marginal ms/task", justify="right")
    table.add_column("peak MiB (dagwell / baseline)", justify="right")
    table.add_column("target", no_wrap=True)
    table.add_column("met?", no_wrap=True)
    for wid, result in results.items():
        marginal = {
            "W1": marginal_ms(results, "W1", WIDTH),
            "W2": marginal_ms(results, "W2", DEPTH),
        }
        if result.workload.dask:
            marginal[wid] = dask_ms_per_task(result)["dagwell"]
        checks_here = checks.get(wid, [])
        table.add_row(
            f"{wid} {result.workload.what}",
            _seconds(result.dagwell),
            _seconds(result.baseline),
            _number(result.ratio, "{:.2f}x"),
            _number(marginal.get(wid), "{:.3f}"),
            f"{_number(result.dagwell.peak_mib, '{:.0f}')} / "
            f"{_number(result.baseline.peak_mib, '{:.0f}')}",
            "\n".join(c.target for c in checks_here),
            "\n".join(_verdict(c) for c in checks_here),
        )
    return table


def _seconds(side: Side) -> str:
    return f"[red]{side.error}[/]" if side.error else _number(side.median, "{:.3f}")


def _number(value: float | None, form: str) -> str:
    return "—" if value is None or math.isnan(value) else form.format(value)


def _verdict(check: Verdict) -> str:
    if check.met is None:
        return "[yellow]n/a[/]" if check.value is None else "[yellow]noise[/] (negative)"
    if not check.met:
        return "[red]MISS[/]"
    return "[green]PASS[/] (stretch too)" if check.stretch_met else "[green]PASS[/]"


def notes(
    results: dict[str, Result], repeat: int | None, warmup: int, load_before: float
) -> list[str]:
    """The lines printed under the table: how to read it, and dagwell's own run times."""
    counts = ", ".join(f"{w}: {repeat or r.workload.repeat}" for w, r in results.items())
    lines = [
        f"Median of timed runs ({counts}) after {warmup} warm-up round(s); workloads run "
        "round-robin, dagwell and baseline alternating. ratio = dagwell / baseline.",
        "marginal = (W1 - W0) / 500 and (W2 - W0) / 200 of dagwell's medians.",
        "peak MiB = ru_maxrss from os.wait4 on the command: the largest single process among "
        "it and the children it reaped (dagwell's workers, the pool's processes), not a sum.",
        f"Load average (1 min): {load_before:.2f} before, {os.getloadavg()[0]:.2f} after, "
        f"on {os.cpu_count()} CPUs.",
    ]
    if max(load_before, os.getloadavg()[0]) > (os.cpu_count() or 1) / 2:
        lines.append(
            "[yellow]The machine was busy with other work: seconds are inflated and noisy, "
            "marginal costs most of all (a difference of two noisy medians).[/]"
        )
    if "W5" in results:
        per_task = {k: _number(v, "{:.2f}") for k, v in dask_ms_per_task(results["W5"]).items()}
        lines.append(
            f"W5: one LocalCluster of {WORKERS} one-thread workers (allowed-failures 0, "
            "worker-saturation 1.0, as dagwell's own), timed inside one process. dagwell "
            f"{per_task['dagwell']} ms/task = (W1 - W0 through dw.run on Dask) / {WIDTH}; "
            f"plain Client.submit {per_task['raw']} ms/task all at once (the target's "
            f"baseline), {per_task['raw windowed']} ms/task with {DASK_IN_FLIGHT} in flight, "
            "as many as dagwell's runner keeps. Medians; W5's time columns are W1 on Dask and "
            "the 500 plain calls."
        )
    own = []
    for wid, result in results.items():
        if result.workload.dask:
            continue  # dw.run in-process: no `dagwell run` line to read
        timed = [s.run_seconds for s in result.dagwell.samples if s.run_seconds is not None]
        if timed and result.dagwell.median is not None:
            inside = statistics.median(timed)
            own.append(f"{wid} {inside:.2f} s of {result.dagwell.median:.2f} s")
    if own:
        lines.append(
            "dagwell's own run time (run start to end, as `dagwell run` reports it): "
            + "; ".join(own)
            + ". The rest is process start-up, imports and exit."
        )
    return lines


def save(
    results: dict[str, Result],
    checks: dict[str, list[Verdict]],
    started: datetime,
    load_before: tuple[float, float, float],
    repeat: int | None,
    warmup: int,
) -> Path:
    """Write every raw figure to ``.bench/results.json`` and return its path."""
    payload: dict[str, Any] = {
        "started_at": started.isoformat(),
        "finished_at": datetime.now(timezone.utc).isoformat(),
        "machine": {
            "python": sys.version,
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
        },
        "dagwell": {"version": _version(), "git": _git()},
        "settings": {"repeat": repeat, "warmup": warmup, "workers": WORKERS},
        "peak_rss_measures": "max ru_maxrss of the command's process and its reaped children",
        "workloads": {},
    }
    for wid, result in results.items():
        payload["workloads"][wid] = {
            "what": result.workload.what,
            "dagwell": _side_json(result.dagwell),
            "baseline": _side_json(result.baseline),
            "ratio": result.ratio,
            "peak_ratio": result.peak_ratio,
            "marginal_ms_per_task": (
                marginal_ms(results, wid, WIDTH if wid == "W1" else DEPTH)
                if wid in ("W1", "W2")
                else dask_ms_per_task(result)["dagwell"]
                if result.workload.dask
                else None
            ),
            **(
                {
                    "ms_per_task": dask_ms_per_task(result),
                    **{name: _side_json(side) for name, side in result.extra.items()},
                }
                if result.workload.dask
                else {}
            ),
            "targets": [
                {**asdict(c), "met": c.met, "stretch_met": c.stretch_met}
                for c in checks.get(wid, [])
            ],
        }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n")
    return RESULTS


def _side_json(side: Side) -> dict[str, Any]:
    return {
        "command": side.command,
        "median_s": side.median,
        "peak_mib": side.peak_mib,
        "error": side.error,
        "runs": [asdict(s) for s in side.samples],
    }


def _version() -> str | None:
    try:
        return metadata.version("dagwell")
    except metadata.PackageNotFoundError:
        return None


def _git() -> dict[str, Any]:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip()

    try:
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}
    except OSError:
        return {}


# -- command line ------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """``--only W1,W3``, ``--repeat N`` and ``--warmup N``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", help="comma-separated workload ids, e.g. W1,W3")
    parser.add_argument("--repeat", type=int, help="timed runs per side (default 5, and 3 for W4)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs first (default 1)")
    args = parser.parse_args(argv)
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must be 0 or more")
    return args


def select(only: str | None, console: Console) -> list[Workload]:
    """The workloads named by ``--only`` (all by default); W0 joins W1 and W2 for marginals."""
    if not only:
        return list(WORKLOADS)
    by_id = {w.id: w for w in WORKLOADS}
    wanted = {part.strip().upper() for part in only.split(",") if part.strip()}
    unknown = sorted(wanted - set(by_id))
    if unknown:
        raise SystemExit(
            f"unknown workload(s) {', '.join(unknown)}; choose from {', '.join(by_id)}"
        )
    if wanted & {"W1", "W2"} and "W0" not in wanted:
        console.print("[dim]adding W0: the marginal cost per task of W1/W2 needs it[/]")
        wanted.add("W0")
    return [w for w in WORKLOADS if w.id in wanted]


def main(argv: list[str] | None = None) -> None:
    """Measure, print the table and the notes, and save the raw figures."""
    args = parse_args(argv)
    # An installed package has its bytecode compiled; an editable checkout under
    # PYTHONDONTWRITEBYTECODE (set on some machines) would recompile on every start.
    compileall.compile_dir(str(ROOT / "src"), quiet=1)
    compileall.compile_dir(str(ROOT / "bench"), quiet=1)
    # Piped output (make bench | tee) would otherwise wrap the table at 80 columns.
    console = Console(width=None if sys.stdout.isatty() else 150)
    workloads = select(args.only, console)
    started, load_before = datetime.now(timezone.utc), os.getloadavg()
    measured = run_all(workloads, args.repeat, args.warmup, console)
    results = {r.workload.id: r for r in measured}
    checks = verdicts(results)
    console.print()
    console.print(render(results, checks))
    for line in notes(results, args.repeat, args.warmup, load_before[0]):
        console.print(f"[dim]{line}[/]")
    path = save(results, checks, started, load_before, args.repeat, args.warmup)
    console.print(f"raw figures: {path.relative_to(ROOT)}")
    if any(r.dagwell.error or r.baseline.error for r in measured):
        sys.exit(1)  # a command failed; a missed target is a result, not an error


if __name__ == "__main__":
    main()
