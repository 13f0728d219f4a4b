"""How long the web UI's pages take on a busy install: 10,000 runs and a 1,000-node run.

    .venv/bin/python bench/ui_pages.py [--repeat 20]   # one line per page, best and median

The records are written straight into a fresh SQLite store (as in the page tests, whose
helpers this uses), then each page is asked for through FastAPI's test client, in process,
so the figures are the server's work: queries, layout, SVG and templates, no network.
The target is 100 ms for the runs page and the run page.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))

from fastapi.testclient import TestClient
from page_helpers import pages_app, seed_runs, seed_wide_run

import dagwell as dw

TARGET_MS = 100.0
HX = {"HX-Request": "true"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        settings = dw.Settings.from_env({}, home=Path(scratch) / "home")
        began = time.perf_counter()
        ids = seed_runs(settings, 10_000)
        wide = seed_wide_run(settings, 1_000)
        print(f"seeded 10,000 runs and a 1,002-node run in {time.perf_counter() - began:.1f}s")
        pages = [
            ("runs page", "/runs", {}),
            ("runs page 100", f"/runs?cursor={ids[5_000]}", {}),
            ("runs, filtered", "/runs?status=failed&pipeline=pipeline_3", {}),
            ("runs table (htmx)", "/runs", HX),
            ("pipelines", "/", {}),
            ("run page, 1,002 nodes", f"/runs/{wide}", {}),
            ("run live parts (htmx)", f"/runs/{wide}/live", HX),
            ("node panel (htmx)", f"/runs/{wide}/node?node=fit%5B4%5D", HX),
        ]
        with TestClient(pages_app(settings)) as client:
            client.get("/runs")
            print(f"{'page':<24}{'best ms':>10}{'median ms':>12}  target {TARGET_MS:.0f} ms")
            for name, url, headers in pages:
                times = []
                for _ in range(args.repeat):
                    begin = time.perf_counter()
                    answer = client.get(url, headers=headers)
                    times.append((time.perf_counter() - begin) * 1000)
                    assert answer.status_code == 200, (url, answer.status_code)
                median = statistics.median(times)
                verdict = "ok" if median < TARGET_MS else "SLOW"
                print(f"{name:<24}{min(times):>10.1f}{median:>12.1f}  {verdict}")


if __name__ == "__main__":
    main()
