"""Records for the web API tests: real runs made by ``dw.run`` in one SQLite store, and a
test client over the app that serves them.

Building them takes a few seconds, so each test module builds them once (module scope)
and its tests only read, or write records of their own.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import pipelines_for_tests as flows
from fastapi.testclient import TestClient

import dagwell as dw
from dagwell.interfaces.web.app import create_app

ADHOC = textwrap.dedent(
    """
    import dagwell as dw


    @dw.task
    def double(n: int) -> int:
        print("doubling", n)
        return 2 * n


    @dw.pipeline
    def adhoc(n: int, label: str = "x"):
        return double(n)
    """
)


@dataclass
class Records:
    """The store's settings, the runs made in it (by name) and a client of the open app."""

    settings: dw.Settings
    runs: dict[str, dw.Run]
    client: TestClient
    folder: Path


def make_records(folder: Path) -> Records:
    """Run the test pipelines once into a store under ``folder``; register ``adhoc``."""
    settings = dw.Settings.from_env({}, home=folder / "home")
    data = folder / "rows.csv"
    data.write_text("a\nb\nc\n")
    made = {
        "basic": dw.run(flows.basic, {"n": 5}, executor="inline", settings=settings),
        "failed": dw.run(flows.one_branch_fails, executor="inline", settings=settings),
        "tracked": dw.run(flows.tracked, executor="inline", settings=settings),
        "artifacts": dw.run(flows.artifacts, executor="inline", settings=settings),
        "fanout": dw.run(flows.dynamic_fanout, executor="inline", settings=settings),
        "model": dw.run(
            flows.dataset_to_model, {"path": str(data)}, executor="inline", settings=settings
        ),
    }
    pipeline_file = folder / "adhoc_flows.py"
    pipeline_file.write_text(ADHOC)
    # Queuing a run of a file no daemon reads registers its pipeline (inactive): the API
    # can then trigger it by name.
    made["queued"] = dw.trigger(f"{pipeline_file}:adhoc", {"n": 1}, settings=settings)
    client = TestClient(create_app(settings, open_mode=True))
    return Records(settings, made, client, folder)
