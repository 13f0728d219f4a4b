"""What the JSON API and the pages both read off a recorded run: its edges, and one
attempt's log (read only from the logs folder or the artifact store).

Kept here so ``GET /api/v1/runs/{id}/graph`` and the run page draw the same graph, and
``GET /api/v1/runs/{id}/logs/{node}`` and the node panel read logs the same safe way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dagwell.core.records import Attempt, Run, TaskRun
from dagwell.errors import NotFoundError
from dagwell.interfaces.web.problems import ApiError
from dagwell.settings import Settings


def run_edges(found: Run) -> list[tuple[str, str, str]]:
    """``(source, target, kind)`` of each edge of the run's DAG: from each upstream node
    (``data``), and from a dynamic fan-out to each of its items (``map``).

    >>> run_edges(dw.get_run("3f2a"))[0]
    ('numbers', 'split', 'data')
    """
    edges = [
        (up, t.node, "data") for t in found.tasks.values() for up in t.upstream if up in found.tasks
    ]
    edges += [
        (t.map_parent, t.node, "map")
        for t in found.tasks.values()
        if t.map_parent is not None and t.map_parent in found.tasks
    ]
    return edges


def task_of(found: Run, node: str) -> TaskRun:
    """Node ``node`` of the run; :class:`NotFoundError` (404) when it has none."""
    task = found.tasks.get(node)
    if task is None:
        raise NotFoundError(f"run {found.id} has no node {node!r}")
    return task


@dataclass(frozen=True)
class AttemptLog:
    """One attempt's log: the attempt and the text it printed and logged ("" if none)."""

    attempt: Attempt
    text: str


def attempt_log(found: Run, node: str, number: int | None, settings: Settings) -> AttemptLog:
    """The log of attempt ``number`` of ``node`` (the last attempt when None).

    404 (:class:`ApiError` or :class:`NotFoundError`) for an unknown node, a node that has
    not started, or an attempt it does not have.

    >>> attempt_log(run, "train", None, settings).text.splitlines()[-1]
    """
    from dagwell.execution.attempt import read_log

    task = task_of(found, node)
    if not task.attempts:
        raise ApiError(404, f"node {node!r} of run {found.id} has not started an attempt yet")
    chosen = task.attempts[-1] if number is None else attempt_numbered(task.attempts, number, node)
    text = read_log(found.id, node, chosen, settings, guarded=True) or ""
    return AttemptLog(chosen, text)


def attempt_numbered(attempts: Sequence[Attempt], number: int, node: str) -> Attempt:
    """Attempt ``number`` of ``node``; 404 (:class:`ApiError`) when it has none."""
    for candidate in attempts:
        if candidate.number == number:
            return candidate
    raise ApiError(
        404,
        f"node {node!r} has no attempt {number}",
        f"its attempts are 1 to {len(attempts)}",
    )
