"""The lineage explorer (``/lineage?ref=...``): the graph from dataset versions through
task runs and artifacts to model versions, drawn with the DAG picture.

A REF is what ``dagwell lineage`` takes: ``model:NAME@VERSION`` (or ``@ALIAS``),
``RUN:NODE``, a dataset path or URL, or an artifact hash prefix. Upstream shows where it
came from; downstream what was made from it. Clicking a node opens a panel
(``/lineage/node``) with links to its run, dataset or model, and to explore from it.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from dagwell.interfaces.web.access import Principal, require
from dagwell.interfaces.web.pages.rendering import acting, picture, render, wants_fragment
from dagwell.interfaces.web.state import SettingsDep
from dagwell.settings import Settings
from dagwell.tracking.lineage import LineageNode

router = APIRouter(include_in_schema=False)

Direction = Literal["upstream", "downstream"]

_TASK_STATE = re.compile(r"\((\w+)\)$")


@router.get("/lineage", response_class=HTMLResponse)
def lineage_page(
    request: Request,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("view"))],
    ref: str = "",
    direction: Direction = "upstream",
    depth: Annotated[int, Query(ge=1, le=100)] = 30,
) -> HTMLResponse:
    """The lineage graph of ``ref``; without one, a form and some places to start."""
    from dagwell.errors import DefinitionError, NotFoundError
    from dagwell.tracking.lineage import lineage

    context: dict[str, Any] = {
        "section": "lineage",
        "who": acting(request, who),
        "ref": ref,
        "direction": direction,
        "error": None,
        "graph": None,
        "nodes": [],
        "starts": [] if ref else _starts(settings),
    }
    if not ref:
        return render(request, "lineage.html", context)
    try:
        tree = lineage(ref.strip(), direction, settings=settings, depth=depth)
    except (NotFoundError, DefinitionError) as exc:
        # As the API answers: nothing by that name 404, a REF that cannot be one 422.
        context["error"] = str(exc)
        status = 404 if isinstance(exc, NotFoundError) else 422
        return render(request, "lineage.html", context, status=status)
    graph, nodes = lineage_picture(tree, upstream=direction == "upstream")
    context.update(graph=graph, nodes=nodes)
    return render(request, "lineage.html", context)


@router.get("/lineage/node", response_class=HTMLResponse)
def lineage_node(
    request: Request,
    settings: SettingsDep,
    who: Annotated[Principal, Depends(require("view"))],
    kind: str,
    ref: str,
    label: str = "",
) -> HTMLResponse:
    """What one node of the graph is, with links to its page and to explore from it."""
    if not wants_fragment(request):
        return lineage_page(request, settings, who, ref=ref)
    return render(request, "_lineage_node.html", {"n": describe(kind, ref, label)})


def lineage_picture(
    tree: LineageNode, *, upstream: bool
) -> tuple[Markup | None, list[dict[str, Any]]]:
    """The tree as a DAG picture (each thing once, arrows pointing from source to what
    was made from it), and its nodes described for the list under it."""
    from dagwell.errors import CycleError
    from dagwell.interfaces.web.pictures.dag import dag_svg, layout

    ids: dict[tuple[str, str], str] = {}
    described: dict[str, dict[str, Any]] = {}
    edges: list[tuple[str, str]] = []

    def visit(node: LineageNode) -> str:
        key = (node.kind, node.ref)
        if key not in ids:
            name = short_name(node)
            while name in described:  # two things with one label: keep both apart
                name += "'"
            ids[key] = name
            described[name] = describe(node.kind, node.ref, node.label)
        me = ids[key]
        for child in node.children:
            other = visit(child)
            edges.append((other, me) if upstream else (me, other))
        return me

    visit(tree)
    states = {name: d["state"] for name, d in described.items()}
    try:
        placed = layout(list(reversed(described)) if upstream else list(described), edges)
    except CycleError:
        return None, list(described.values())

    def link(name: str) -> str:
        d = described[name]
        return "/lineage/node?" + urlencode(
            {"kind": d["kind"], "ref": d["ref"], "label": d["label"]}
        )

    return picture(dag_svg(placed, states, link=link)), list(described.values())


def short_name(node: LineageNode) -> str:
    """What a box of the graph says: short enough to read in it (the list under the graph
    and the node's panel give the whole label).

    >>> short_name(LineageNode("task", "fit in run 3f2a9c1d0e7b (failed)", "3f2a9c1d0e7b:fit"))
    'fit · run 3f2a9c'
    """
    if node.kind == "task":
        run_id, _, name = node.ref.partition(":")
        return f"{name} · run {run_id[:6]}"
    if node.kind == "dataset":
        uri, _, version = node.ref.rpartition("@") if "@" in node.ref else (node.ref, "", "")
        base = uri.rstrip("/").rsplit("/", 1)[-1] or uri
        return f"dataset {base}" + (f" @{version[:8]}" if version else "")
    if node.kind == "artifact":
        return f"artifact {node.ref[:12]}"
    return f"{node.kind} {node.label}"


def describe(kind: str, ref: str, label: str) -> dict[str, Any]:
    """A lineage node with the pages it links to and the colour it is drawn in (tasks by
    their state; datasets, artifacts and models grey)."""
    links: list[tuple[str, str]] = []
    state = "record"
    if kind == "task":
        run_id, _, node = ref.partition(":")
        links.append(("run", f"/runs/{run_id}?" + urlencode({"node": node})))
        found = _TASK_STATE.search(label)
        state = found.group(1) if found else "pending"
    elif kind == "model":
        name = ref.removeprefix("model:").rpartition("@")[0]
        links.append(("model", f"/models/{name}"))
    elif kind == "dataset":
        uri = ref.rpartition("@")[0] if "@" in ref else ref
        links.append(("dataset", "/datasets?" + urlencode({"uri": uri})))
    for direction in ("upstream", "downstream"):
        query = urlencode({"ref": ref, "direction": direction})
        links.append((f"explore {direction}", f"/lineage?{query}"))
    return {"kind": kind, "ref": ref, "label": label, "state": state, "links": links}


def _starts(settings: Settings) -> list[tuple[str, str]]:
    """Refs to start from: every model's newest version, and every dataset."""
    from dagwell.execution.runs import list_datasets
    from dagwell.tracking.registry import models

    starts = [
        (f"model {m.name} v{m.latest_version}", f"model:{m.name}@{m.latest_version}")
        for m in models.list(settings=settings)
    ]
    uris = dict.fromkeys(v.uri for v in list_datasets(settings=settings))
    starts += [(f"dataset {uri}", uri) for uri in uris]
    return starts
