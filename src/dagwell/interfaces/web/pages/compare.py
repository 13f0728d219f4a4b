"""The compare page (``/compare?run=A&run=B[&run=C...]``): two or more runs side by side.

Params, task params, final metrics, code and environment in one table each (rows that
differ are highlighted; ``only=diff`` keeps only those), each metric logged over steps as
one chart with a line per run, and the code diff of every run against the first. The
comparing is :mod:`dagwell.tracking.compare`'s, as for ``dagwell compare``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from dagwell.core.records import Run
from dagwell.interfaces.web.access import Principal, require
from dagwell.interfaces.web.pages.rendering import acting, picture, render
from dagwell.interfaces.web.pictures.charts import line_chart_svg
from dagwell.interfaces.web.state import SettingsDep
from dagwell.tracking.compare import MISSING

router = APIRouter(include_in_schema=False)

MAX_RUNS = 12
"""The most runs one comparison holds (a column each)."""


@router.get("/compare", response_class=HTMLResponse)
def compare_page(
    request: Request,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("view"))],
    run: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI copies the default
    only: str = "",
) -> HTMLResponse:
    """Runs side by side; a form to name them when fewer than two are given."""
    from dagwell.errors import DefinitionError
    from dagwell.execution.runs import get_run
    from dagwell.tracking.compare import SECTIONS, compare_runs, diff_runs

    ids = list(dict.fromkeys(part.strip() for part in run if part.strip()))[:MAX_RUNS]
    context: dict[str, Any] = {
        "section": "runs",
        "who": acting(request, who),
        "ids": ids,
        "only_diff": only == "diff",
        "error": None,
        "comparison": None,
        "missing": MISSING,
    }
    if len(ids) < 2:
        if ids:
            context["error"] = "pick at least two runs to compare"
        return render(request, "compare.html", context, status=422 if ids else 200)
    found = [get_run(run_id, settings=settings) for run_id in ids]  # NotFoundError: 404
    try:
        comparison = compare_runs(found)
    except DefinitionError as exc:
        context["error"] = str(exc)
        return render(request, "compare.html", context, status=422)
    sections = [
        (name, rows if not context["only_diff"] else [r for r in rows if r.differs])
        for name in SECTIONS
        for rows in [comparison.section(name)]
    ]
    context.update(
        runs=found,
        comparison=comparison,
        sections=sections,
        charts=metric_charts(found),
        diffs=[diff_runs(found[0], other) for other in found[1:]],
    )
    return render(request, "compare.html", context)


def metric_charts(runs: list[Run]) -> list[tuple[str, Markup]]:
    """A chart per ``node/metric`` that some run logged at more than one step, with a
    line per run."""
    by_metric: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for found in runs:
        for point in found.metrics():
            key = f"{point.node}/{point.name}"
            points = by_metric.setdefault(key, {}).setdefault(found.id, [])
            step = point.step if point.step is not None else len(points)
            points.append((float(step), point.value))
    return [
        (key, picture(line_chart_svg(series, title=key)))
        for key, series in by_metric.items()
        if max(len(points) for points in series.values()) > 1
    ]
