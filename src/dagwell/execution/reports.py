"""Runs as people look at them: one run with the alerts it raised, a page of runs, and
pipelines with their recent runs.

``dagwell show RUN --json`` prints a :class:`RunReport` and ``GET /api/v1/runs/{id}``
answers it, so both give the same shape from this one place; ``GET /api/v1/runs`` answers
a :class:`RunPage` and ``GET /api/v1/pipelines`` :class:`PipelineSummary` values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from dagwell.core.records import Run
from dagwell.settings import Settings

if TYPE_CHECKING:
    from dagwell.storage.metadata.alerts import AlertRecord
    from dagwell.storage.metadata.registered import RegisteredPipeline
    from dagwell.storage.metadata.run_stats import RunBrief


@dataclass(frozen=True)
class RunReport:
    """A recorded run and the alerts it raised, newest first.

    >>> report = run_report("3f2a9c", settings=settings)
    >>> report.to_dict()["alerts"]
    """

    run: Run
    alerts: list[AlertRecord]

    def to_dict(self) -> dict[str, Any]:
        """``run.to_dict()`` with an ``alerts`` list: the shape of ``dagwell show --json``."""
        return {**self.run.to_dict(), "alerts": [a.to_dict() for a in self.alerts]}


def run_report(run_id: str, *, settings: Settings | None = None) -> RunReport:
    """The run ``run_id`` (or a unique prefix of it) with its alerts.

    Raises :class:`~dagwell.errors.NotFoundError` for an unknown run.

    >>> run_report("3f2a").run.status
    <RunState.FAILED: 'failed'>
    """
    from dagwell.execution.alerts import list_alerts
    from dagwell.execution.runs import get_run

    settings = settings or Settings.from_env()
    found = get_run(run_id, settings=settings)
    return RunReport(found, list_alerts(run_id=found.id, limit=None, settings=settings))


@dataclass(frozen=True)
class RunPage:
    """One page of a runs listing: the runs (without nodes), newest first, how many of
    each run's nodes are in each state, and the cursor of the next page (None on the last).
    """

    runs: list[Run]
    task_counts: dict[str, dict[str, int]]
    next: str | None


def run_page(
    *,
    pipeline: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    trigger: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
    offset: int = 0,
    settings: Settings | None = None,
) -> RunPage:
    """A page of runs, filtered as :func:`dagwell.list_runs` filters them.

    ``cursor`` is the ``next`` of the previous page (the id of its last run): paging by
    cursor stays fast however deep, where ``offset`` counts the runs it skips. Raises
    :class:`~dagwell.errors.DefinitionError` for an unknown status or cursor.

    >>> page = run_page(pipeline="churn", limit=50)
    >>> older = run_page(pipeline="churn", limit=50, cursor=page.next)
    """
    from dagwell.core.states import RunState
    from dagwell.errors import DefinitionError
    from dagwell.storage.metadata.run_stats import task_counts
    from dagwell.storage.shared import metadata_store

    settings = settings or Settings.from_env()
    if limit < 1:
        raise DefinitionError(f"limit must be at least 1, got {limit}")
    wanted = None
    if status is not None:
        try:
            wanted = RunState(status.lower())
        except ValueError:
            valid = ", ".join(s.value for s in RunState)
            raise DefinitionError(f"unknown run status {status!r}; use one of: {valid}") from None
    store = metadata_store(settings.db_url)
    if cursor is not None and not store.run_exists(cursor):
        raise DefinitionError(f"unknown cursor {cursor!r}: pass the 'next' of a page")
    found = store.list_runs(
        pipeline=pipeline,
        status=wanted,
        since=since,
        until=until,
        trigger=trigger,
        limit=limit,
        after=cursor,
        offset=offset,
    )
    with store.reading() as conn:
        counts = task_counts(conn, [r.id for r in found])
    following = found[-1].id if len(found) == limit else None
    return RunPage(found, counts, following)


RECENT_RUNS = 20
"""How many of a pipeline's newest runs its success rate is worked out over."""


@dataclass(frozen=True)
class PipelineSummary:
    """A pipeline as a listing shows it: its registration (None when it is known only from
    its runs), its runs per state, and its newest runs (newest first).

    ``success_rate`` is succeeded over finished among the newest :data:`RECENT_RUNS` runs,
    or None when none of them finished.
    """

    name: str
    registered: RegisteredPipeline | None
    run_counts: dict[str, int]
    recent: list[RunBrief]

    @property
    def success_rate(self) -> float | None:
        """Succeeded / finished over the recent runs; None when none finished."""
        from dagwell.storage.metadata.run_stats import FINISHED

        finished = [r for r in self.recent if r.status in FINISHED]
        if not finished:
            return None
        return sum(r.status == "succeeded" for r in finished) / len(finished)

    def to_dict(self, *, last: int = 5) -> dict[str, Any]:
        """A JSON-able dict with the ``last`` newest runs."""
        reg = self.registered
        return {
            "name": self.name,
            "registered": reg is not None,
            "active": reg is not None and reg.active,
            "source": reg.source if reg else None,
            "description": reg.description if reg else "",
            "schedule": reg.schedule if reg else None,
            "timezone": reg.timezone if reg else None,
            "next_due_at": reg.next_due_at.isoformat() if reg and reg.next_due_at else None,
            "max_active_runs": reg.max_active_runs if reg else None,
            "run_counts": dict(self.run_counts),
            "success_rate": self.success_rate,
            "last_runs": [r.to_dict() for r in self.recent[:last]],
        }


def pipeline_summaries(
    name: str | None = None, *, settings: Settings | None = None
) -> list[PipelineSummary]:
    """Every pipeline a scheduler registered or a run recorded (or only ``name``), by name.

    Raises :class:`~dagwell.errors.NotFoundError` when ``name`` is neither.

    >>> [(p.name, p.success_rate) for p in pipeline_summaries()]
    [('churn', 0.9)]
    """
    from dagwell.errors import NotFoundError
    from dagwell.storage.metadata.registered import list_pipelines
    from dagwell.storage.metadata.run_stats import recent_runs, run_pipelines, runs_by_state
    from dagwell.storage.shared import metadata_store

    settings = settings or Settings.from_env()
    with metadata_store(settings.db_url).reading() as conn:
        registered = {p.name: p for p in list_pipelines(conn, active_only=False)}
        names = sorted(set(registered) | set(run_pipelines(conn)))
        if name is not None:
            if name not in names:
                known = ", ".join(names) or "none yet"
                raise NotFoundError(f"no pipeline named {name!r} (known: {known})")
            names = [name]
        counts: dict[str, dict[str, int]] = {n: {} for n in names}
        for (pipeline, status), count in runs_by_state(conn).items():
            if pipeline in counts:
                counts[pipeline][status] = count
        return [
            PipelineSummary(n, registered.get(n), counts[n], recent_runs(conn, n, RECENT_RUNS))
            for n in names
        ]
