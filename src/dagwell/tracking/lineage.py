"""Lineage: from a dataset version through task runs and artifacts to model versions.

``lineage(ref)`` walks what runs recorded, upstream (where did this come from?) or
downstream (what was made from it?), and returns a tree of :class:`LineageNode`.
A REF is ``model:NAME@VERSION`` (or ``@alias``), ``RUN:NODE``, a dataset path or URL, or
an artifact hash prefix.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dagwell.core.records import Run
from dagwell.errors import DefinitionError, NotFoundError
from dagwell.settings import Settings
from dagwell.storage.shared import metadata_store
from dagwell.tracking.datasets import resolve_uri

if TYPE_CHECKING:
    from dagwell.storage.metadata.store import MetadataStore

_HEX = re.compile(r"^[0-9a-f]{6,64}$")


@dataclass(frozen=True)
class LineageNode:
    """One node of a lineage tree: a dataset version, task run, artifact or model version.

    ``ref`` is what ``dagwell lineage`` accepts to start from this node.
    """

    kind: str
    label: str
    ref: str
    children: tuple[LineageNode, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (``dagwell lineage --json``)."""
        return {
            "kind": self.kind,
            "label": self.label,
            "ref": self.ref,
            "children": [child.to_dict() for child in self.children],
        }


def lineage(
    ref: str,
    direction: str = "upstream",
    *,
    settings: Settings | None = None,
    depth: int = 30,
) -> LineageNode:
    """The lineage tree of ``ref``, ``upstream`` or ``downstream``.

    >>> tree = dw.lineage("model:churn@production")
    >>> [child.kind for child in tree.children]
    ['artifact']
    """
    if direction not in ("upstream", "downstream"):
        raise DefinitionError(f"direction must be 'upstream' or 'downstream', got {direction!r}")
    settings = settings or Settings.from_env()
    walk = _Walk(metadata_store(settings.db_url), settings, direction == "upstream", depth)
    return walk.start(ref)


@dataclass
class _Walk:
    store: MetadataStore
    settings: Settings
    upstream: bool
    depth: int
    runs: dict[str, Run] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)

    def start(self, ref: str) -> LineageNode:
        if ref.startswith("model:"):
            return self.model(ref[len("model:") :], 0)
        run_part, sep, node = ref.rpartition(":")
        if sep and "://" not in ref and node and not os.path.exists(ref):
            run = self.run(run_part)
            if node not in run.tasks:
                raise NotFoundError(f"run {run.id} has no node {node!r}")
            return self.task(run.id, node, 0)
        uri, _, version = ref.partition("@")
        if os.path.exists(uri) or self.store.dataset_readers(resolve_uri(uri)):
            return self.dataset(resolve_uri(uri), version or None, 0)
        if _HEX.match(ref):
            return self.artifact(ref, 0)
        raise NotFoundError(
            f"{ref!r} is not a recorded model (model:NAME@VERSION), task run (RUN:NODE), "
            "dataset path or artifact hash prefix"
        )

    def run(self, run_id: str) -> Run:
        if run_id not in self.runs:
            found = self.store.get_run(run_id)
            self.runs[run_id] = self.runs[found.id] = found
        return self.runs[run_id]

    def _once(self, key: str, level: int) -> bool:
        """False when ``key`` was shown already or the tree is deep enough."""
        if key in self.seen or level > self.depth:
            return False
        self.seen.add(key)
        return True

    def model(self, spec: str, level: int) -> LineageNode:
        from dagwell.tracking.registry import ModelRegistry

        version = ModelRegistry().resolve(spec, settings=self.settings)
        ref = f"model:{version.name}@{version.version}"
        children: list[LineageNode] = []
        if self.upstream and version.run_id and version.node and self._once(ref, level):
            artifact = f"{version.artifact.hash[:12]} ({version.artifact.type_name})"
            task = self.task(version.run_id, version.node, level + 2)
            children.append(LineageNode("artifact", artifact, version.artifact.hash[:12], (task,)))
        return LineageNode("model", f"{version.name} v{version.version}", ref, tuple(children))

    def task(self, run_id: str, node: str, level: int) -> LineageNode:
        run = self.run(run_id)
        task = run.tasks[node]
        ref = f"{run.id}:{node}"
        label = f"{node} in run {run.id} ({task.status.value})"
        if not self._once(ref, level):
            return LineageNode("task", label, ref)
        children: list[LineageNode] = []
        if self.upstream:
            for uri, version in self.store.datasets_read(run.id, node):
                children.append(
                    LineageNode("dataset", f"{uri} @{version[:12]}", f"{uri}@{version}")
                )
            for up in task.upstream:
                children.append(self.outputs_of(run, up, level + 1))
        else:
            consumers = [t.node for t in run.tasks.values() if node in t.upstream]
            for name, number in self.store.models_logged(run.id, node):
                children.append(self.model(f"{name}@{number}", level + 1))
            if consumers:
                children.append(
                    LineageNode(
                        "artifact",
                        self._describe_outputs(run, node),
                        self._outputs_ref(run, node),
                        tuple(self.task(run.id, c, level + 2) for c in consumers),
                    )
                )
        return LineageNode("task", label, ref, tuple(children))

    def outputs_of(self, run: Run, node: str, level: int) -> LineageNode:
        """Upstream: the outputs of ``node`` as read by its consumer, above their producer."""
        producer = self.task(run.id, node, level + 1)
        return LineageNode(
            "artifact", self._describe_outputs(run, node), self._outputs_ref(run, node), (producer,)
        )

    def dataset(self, uri: str, version: str | None, level: int) -> LineageNode:
        label = uri if version is None else f"{uri} @{version[:12]}"
        ref = uri if version is None else f"{uri}@{version}"
        children: list[LineageNode] = []
        if not self.upstream and self._once(ref, level):
            for _, run_id, node in self.store.dataset_readers(uri, version):
                children.append(self.task(run_id, node, level + 1))
        return LineageNode("dataset", label, ref, tuple(children))

    def artifact(self, prefix: str, level: int) -> LineageNode:
        made = self.store.artifact_producers(prefix)
        if not made:
            models = self.store.models_by_artifact(prefix)
            if models:
                name, number = models[0]
                return self.model(f"{name}@{number}", level)
            raise NotFoundError(f"no recorded task output has an artifact hash starting {prefix!r}")
        digest = made[0][0]
        children: list[LineageNode] = []
        if self.upstream:
            _, run_id, node = made[0]
            children.append(self.task(run_id, node, level + 1))
        else:
            for _, run_id, node in made:
                run = self.run(run_id)
                for consumer in (t.node for t in run.tasks.values() if node in t.upstream):
                    children.append(self.task(run_id, consumer, level + 1))
                for name, number in self.store.models_logged(run_id, node):
                    children.append(self.model(f"{name}@{number}", level + 1))
        return LineageNode("artifact", digest[:12], digest[:12], tuple(children))

    @staticmethod
    def _describe_outputs(run: Run, node: str) -> str:
        outputs = run.tasks[node].outputs
        if not outputs:
            return f"output of {node} (none recorded)"
        parts = [f"{name}={value.hash[:12]} ({value.type_name})" for name, value in outputs.items()]
        return ", ".join(parts)

    @staticmethod
    def _outputs_ref(run: Run, node: str) -> str:
        outputs = run.tasks[node].outputs
        stored = [value.hash[:12] for value in outputs.values() if not value.is_inline]
        return stored[0] if stored else f"{run.id}:{node}"
