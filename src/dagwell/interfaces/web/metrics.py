"""``/metrics``: what the records hold, in the Prometheus text format (version 0.0.4).

Runs by pipeline and state, task runs by state, and a summary of finished runs' durations
by pipeline and final state. Labels never carry run ids: each label value set stays small
whatever the number of runs. Written by hand; no client library needed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse

from dagwell import __version__
from dagwell.interfaces.web.access import Principal, require
from dagwell.interfaces.web.state import SettingsDep

router = APIRouter(tags=["system"])

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {CONTENT_TYPE: {}}, "description": "Prometheus metrics"}},
)
def metrics(
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("view"))],
) -> PlainTextResponse:
    """Counts of runs and task runs by state, and run durations, for Prometheus."""
    from dagwell.storage.metadata import run_stats
    from dagwell.storage.shared import metadata_store

    with metadata_store(settings.db_url).reading() as conn:
        runs = run_stats.runs_by_state(conn)
        tasks = run_stats.task_runs_by_state(conn)
        durations = run_stats.duration_sums(conn)
    return PlainTextResponse(render(runs, tasks, durations), media_type=CONTENT_TYPE)


def render(
    runs: Mapping[tuple[str, str], int],
    tasks: Mapping[str, int],
    durations: Mapping[tuple[str, str], tuple[int, float]],
) -> str:
    """The exposition text for the counts :mod:`~dagwell.storage.metadata.run_stats` gives.

    >>> print(render({("churn", "failed"): 2}, {"failed": 3}, {}))
    """
    lines = [
        "# HELP dagwell_build_info The dagwell version serving these metrics.",
        "# TYPE dagwell_build_info gauge",
        _sample("dagwell_build_info", {"version": __version__}, 1),
        "# HELP dagwell_runs Runs recorded, by pipeline and state.",
        "# TYPE dagwell_runs gauge",
        *(
            _sample("dagwell_runs", {"pipeline": p, "state": s}, n)
            for (p, s), n in sorted(runs.items())
        ),
        "# HELP dagwell_task_runs Task runs (the nodes of all runs), by state.",
        "# TYPE dagwell_task_runs gauge",
        *(_sample("dagwell_task_runs", {"state": s}, n) for s, n in sorted(tasks.items())),
        "# HELP dagwell_run_duration_seconds Durations of finished runs, by pipeline and state.",
        "# TYPE dagwell_run_duration_seconds summary",
        *_summary("dagwell_run_duration_seconds", durations),
    ]
    return "\n".join(lines) + "\n"


def _summary(name: str, durations: Mapping[tuple[str, str], tuple[int, float]]) -> Iterable[str]:
    for (pipeline, state), (count, total) in sorted(durations.items()):
        labels = {"pipeline": pipeline, "state": state}
        yield _sample(f"{name}_sum", labels, total)
        yield _sample(f"{name}_count", labels, count)


def _sample(name: str, labels: Mapping[str, str], value: float) -> str:
    pairs = ",".join(f'{key}="{_escape(text)}"' for key, text in labels.items())
    number = repr(float(value)) if isinstance(value, float) else str(value)
    return f"{name}{{{pairs}}} {number}"


def _escape(text: str) -> str:
    """A label value as the text format wants it: backslash, quote and newline escaped."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
