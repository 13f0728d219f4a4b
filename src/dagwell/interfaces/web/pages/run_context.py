"""What the run page shows, built from a recorded run: its pictures (DAG, Gantt, metric
charts), artifacts, code snapshot and alerts, and the panel of one node (attempts, log,
inputs, outputs). No routes here: :mod:`.run` and :mod:`.nodes` render these.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup

from dagwell.core.records import Run, TaskRun
from dagwell.core.states import AttemptState, TaskState
from dagwell.core.values import StoredValue
from dagwell.interfaces.web.pages.rendering import picture
from dagwell.interfaces.web.pictures.charts import line_chart_svg
from dagwell.interfaces.web.pictures.dag import Layout, dag_svg, layout
from dagwell.interfaces.web.pictures.gantt import gantt_svg
from dagwell.interfaces.web.run_views import attempt_log, run_edges, task_of
from dagwell.settings import Settings

LOG_SHOWN = 256 * 1024
"""The most bytes of a log the node panel shows (the end of it); the API gives all."""

OPEN = frozenset({TaskState.PENDING, TaskState.RUNNING, TaskState.RETRYING})
"""Node states that will change while the run goes on."""


def node_url(run_id: str, node: str, view: str = "node", **more: object) -> str:
    """The URL of a node's fragment: ``node`` (its panel), ``log`` or ``preview``."""
    query = urlencode({"node": node, **{k: str(v) for k, v in more.items()}})
    return f"/runs/{run_id}/{view}?{query}"


@lru_cache(maxsize=32)
def _placed(nodes: tuple[str, ...], edges: tuple[tuple[str, str], ...]) -> Layout:
    # A live run page redraws every few seconds; its shape rarely changes between polls.
    return layout(nodes, edges)


def dag_picture(found: Run, selected: str | None = None) -> Markup:
    """The run's DAG, nodes coloured by state, each a link that loads its panel."""
    edges = tuple((source, target) for source, target, _ in run_edges(found))
    placed = _placed(tuple(found.tasks), edges)
    states = {node: task.status.value for node, task in found.tasks.items()}
    link: Callable[[str], str] = lambda node: node_url(found.id, node)  # noqa: E731
    return picture(dag_svg(placed, states, link=link, selected=selected))


def gantt_picture(found: Run) -> Markup | None:
    """The run's attempts on a time axis; None before any started."""
    bars = [
        (task.node, a.number, a.status.value, a.started_at, a.ended_at)
        for task in found.tasks.values()
        for a in task.attempts
        if a.started_at is not None
    ]
    if not bars:
        return None
    now = datetime.now(timezone.utc)
    if bars[0][3].tzinfo is None:
        now = now.replace(tzinfo=None)
    if found.ended_at is not None:
        bars = [(n, k, s, start, end or found.ended_at) for n, k, s, start, end in bars]
    link: Callable[[str], str] = lambda node: node_url(found.id, node)  # noqa: E731
    return picture(gantt_svg(bars, now, link=link))


def metric_charts(found: Run) -> tuple[list[tuple[str, Markup]], list[dict[str, Any]]]:
    """A line chart per metric logged at more than one step (a series per node), and
    the last value of every metric of every node."""
    series: dict[str, dict[str, list[tuple[float, float]]]] = {}
    last: dict[tuple[str, str], dict[str, Any]] = {}
    for point in found.metrics():
        points = series.setdefault(point.name, {}).setdefault(point.node, [])
        step = point.step if point.step is not None else len(points)
        points.append((float(step), point.value))
        last[(point.node, point.name)] = {
            "node": point.node,
            "name": point.name,
            "value": point.value,
            "step": point.step,
        }
    charts = [
        (name, picture(line_chart_svg(by_node, title=name)))
        for name, by_node in series.items()
        if max(len(points) for points in by_node.values()) > 1
    ]
    return charts, list(last.values())


def artifacts(found: Run) -> list[dict[str, Any]]:
    """Every stored output of every node, in node order."""
    return [
        {"node": task.node, "name": name, "stored": stored}
        for task in found.tasks.values()
        for name, stored in task.outputs.items()
    ]


def code_of(found: Run) -> tuple[Any, str | None]:
    """The run's code snapshot (None if it has none) and why it could not be read."""
    from dagwell.errors import DagwellError

    if found.code_hash is None:
        return None, None
    try:
        return found.code, None
    except (DagwellError, OSError, ValueError) as exc:
        return None, f"the code snapshot {found.code_hash[:12]} could not be read: {exc}"


def run_context(
    found: Run,
    settings: Settings,
    selected: str | None = None,
    *,
    with_panel: bool = True,
    with_code: bool = True,
) -> dict[str, Any]:
    """Everything the run page shows; with ``selected``, that node outlined (and its
    panel, unless ``with_panel`` is False). The live parts leave the code out."""
    from dagwell.execution.alerts import list_alerts

    charts, last_metrics = metric_charts(found)
    code, code_error = code_of(found) if with_code else (None, None)
    context: dict[str, Any] = {
        "section": "runs",
        "run": found,
        "live": not found.status.is_finished,
        "dag": dag_picture(found, selected),
        "gantt": gantt_picture(found),
        "charts": charts,
        "last_metrics": last_metrics,
        "artifacts": artifacts(found),
        "code": code,
        "code_error": code_error,
        "alerts": list_alerts(run_id=found.id, limit=None, settings=settings),
        "selected": selected,
        "node": None,
    }
    if selected is not None and with_panel:
        context["node"] = node_context(found, selected, settings)
    return context


def node_context(found: Run, node: str, settings: Settings) -> dict[str, Any]:
    """A node's panel: its attempts, the end of its last attempt's log (followed while it
    runs), its inputs (datasets read, upstream outputs) and outputs, params and metrics."""
    task = task_of(found, node)
    log = _log(found, task, None, settings)
    running = bool(task.attempts) and task.attempts[-1].status is AttemptState.RUNNING
    return {
        "run": found,
        "task": task,
        "attempts": list(task.attempts),
        "last_traceback": next((a.traceback for a in reversed(task.attempts) if a.traceback), None),
        "log": log,
        "follow": running and not found.status.is_finished,
        "poll_panel": task.status in OPEN and not running and not found.status.is_finished,
        "datasets": _datasets_read(found.id, node, settings),
        "inputs": [
            {"node": up, "name": name, "stored": stored}
            for up in task.upstream
            if up in found.tasks
            for name, stored in found.tasks[up].outputs.items()
        ],
        "outputs": [{"name": name, "stored": stored} for name, stored in task.outputs.items()],
        "metrics": [m for m in found.metrics() if m.node == node],
        "node_url": node_url,
    }


def _log(
    found: Run, task: TaskRun, number: int | None, settings: Settings
) -> dict[str, Any] | None:
    if not task.attempts:
        return None
    read = attempt_log(found, task.node, number, settings)
    data = read.text.encode()
    cut = max(0, len(data) - LOG_SHOWN)
    return {
        "attempt": read.attempt.number,
        "text": data[cut:].decode(errors="replace"),
        "cut": cut,
        "offset": len(data),
    }


def _datasets_read(run_id: str, node: str, settings: Settings) -> list[tuple[str, str]]:
    from dagwell.storage.shared import metadata_store

    return metadata_store(settings.db_url).datasets_read(run_id, node)


def is_previewable(stored: StoredValue) -> bool:
    """Whether a preview can say more than the value's type and size."""
    return stored.is_inline or stored.serializer in {"json", "npy", "parquet", "arrow-parquet"}
