"""Re-running a recorded run from its code snapshot, and checking that it reproduces.

``rerun`` writes the run's stored source files to a scratch folder, loads the pipeline from
there, points its datasets at the versions the original read (restoring snapshots when the
files changed), and runs it with caching off; ``reproduced`` compares output hashes.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagwell.core.datasets import Dataset
from dagwell.core.records import Run
from dagwell.errors import DefinitionError
from dagwell.execution.attempt import artifact_store
from dagwell.execution.hooks import Hooks
from dagwell.execution.runs import execute_pipeline, get_run, list_datasets
from dagwell.settings import Settings
from dagwell.tracking.datasets import resolve_uri

if TYPE_CHECKING:
    from dagwell.core.graph import Graph


def rerun(
    run_id: str,
    *,
    executor: str = "process",
    workers: int | None = None,
    settings: Settings | None = None,
    hooks: Hooks | None = None,
) -> Run:
    """Run ``run_id`` again from its stored code snapshot, params and dataset versions.

    The code comes from the snapshot, not the working tree; a dataset that changed since is
    restored from its snapshot (``dw.dataset(..., snapshot=True)``), else this refuses with
    a clear error. Caching is off. Compare outputs with :func:`reproduced`.

    >>> again = dw.rerun("3f2a9c")
    >>> dw.reproduced(dw.get_run("3f2a9c"), again)
    {'ingest': 'same', 'fit': 'same'}
    """
    import tempfile

    from dagwell.execution.loader import load_module, pipelines_in

    settings = settings or Settings.from_env()
    original = get_run(run_id, settings=settings)
    code = original.code
    if code is None or code.entry is None:
        raise DefinitionError(f"run {original.id} has no code snapshot to re-run from")
    folder = Path(tempfile.mkdtemp(prefix=f"rerun-{original.id}-", dir=_scratch(settings)))
    for relative, text in code.files.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text)
    pipelines = pipelines_in(load_module(folder / code.entry))
    if original.pipeline not in pipelines:
        raise DefinitionError(
            f"the code snapshot of run {original.id} defines no pipeline {original.pipeline!r}"
        )
    pipeline = pipelines[original.pipeline]
    rewrite = _dataset_rewriter(original, settings, folder / ".datasets")
    bound = pipeline.bind(original.params, from_text=True)
    return execute_pipeline(
        pipeline,
        bound,
        executor,
        workers,
        settings,
        hooks,
        cache=False,
        rerun_of=original,
        dataset_paths=rewrite,
    )


def _scratch(settings: Settings) -> str:
    path = settings.home / "reruns"
    path.mkdir(parents=True, exist_ok=True)
    return str(path)


def _dataset_rewriter(original: Run, settings: Settings, folder: Path) -> Callable[[Graph], Graph]:
    """Point each dataset of the re-run's graph at the version the original run read."""
    from dataclasses import replace as replace_node

    from dagwell.core.datasets import replace_datasets
    from dagwell.core.graph import Graph as GraphType
    from dagwell.tracking.datasets import restore, version_of

    read: dict[str, list[Any]] = {}
    for version in list_datasets(settings=settings):
        for run, node in version.runs:
            if run == original.id:
                read.setdefault(node, []).append(version)
    store = artifact_store(settings.artifacts_url, settings)

    def locate(node: str, found: Dataset) -> Dataset:
        candidates = read.get(node, [])
        wanted = resolve_uri(found.uri)
        matches = [v for v in candidates if v.uri == wanted] or [
            v for v in candidates if v.uri.endswith("/" + found.uri.lstrip("./"))
        ]
        if not matches and len(candidates) == 1:
            matches = candidates
        if not matches:
            return found  # not read by the original run: hashed afresh like any dataset
        recorded = matches[0]
        try:
            unchanged = version_of(Dataset(recorded.uri)).version == recorded.version
        except DefinitionError:
            unchanged = False
        if unchanged:
            return Dataset(recorded.uri)
        if recorded.snapshot_hash is None:
            raise DefinitionError(
                f"dataset {recorded.uri} changed since run {original.id} read version "
                f"{recorded.version[:12]}, and no snapshot of it was kept; restore the file, "
                "or mark it dw.dataset(..., snapshot=True) in future runs"
            )
        return Dataset(restore(recorded.snapshot_hash, store, folder / recorded.version[:12]))

    def rewrite(graph: Graph) -> Graph:
        nodes = {}
        for node_id, node in graph.nodes.items():
            swap = partial(locate, node_id)
            nodes[node_id] = replace_node(
                node,
                args=replace_datasets(node.args, swap),
                kwargs=replace_datasets(dict(node.kwargs), swap),
            )
        return GraphType(pipeline=graph.pipeline, nodes=nodes, output=graph.output)

    return rewrite


def reproduced(original: Run, again: Run) -> dict[str, str]:
    """Node by node: ``same`` (equal output hashes), ``different``, or ``missing``.

    >>> dw.reproduced(dw.get_run("3f2a"), dw.get_run("9b1c"))
    {'load': 'same', 'fit': 'different'}
    """
    verdicts = {}
    for node, task in original.tasks.items():
        if not task.outputs:
            continue
        other = again.tasks.get(node)
        if other is None or not other.outputs:
            verdicts[node] = "missing"
            continue
        mine = {name: value.hash for name, value in task.outputs.items()}
        theirs = {name: value.hash for name, value in other.outputs.items()}
        verdicts[node] = "same" if mine == theirs else "different"
    return verdicts
