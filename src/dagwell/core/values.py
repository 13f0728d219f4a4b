"""Descriptors of stored values: where a node output lives and how to find one item of it.

These are plain data passed between the runner, the workers and the metadata store. A
:class:`StoredValue` is small JSON held inline, or a pointer to an artifact by content hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dagwell.types import JSONValue

DEFAULT_OUTPUT = "return"
"""The output name of a task that declares no named outputs."""

GATHER = "gather"
"""Serializer name of a dynamic fan-out's output: its children's stored values, held inline."""


@dataclass(frozen=True)
class StoredValue:
    """One stored value.

    ``hash`` is the content hash of the serialized bytes (so equal values share it);
    ``inline`` holds the value itself when it is small plain JSON, and is ``None`` when the
    bytes live in the artifact store under ``hash``. ``length`` is ``len(value)`` for lists
    and tuples, which is what a dynamic fan-out needs to expand without loading the value.
    """

    hash: str
    serializer: str
    size: int
    type_name: str
    is_inline: bool = False
    inline: JSONValue = None
    length: int | None = None

    @property
    def is_fully_inline(self) -> bool:
        """Whether the database alone holds the value, so loading it never reads an artifact.

        A gathered fan-out is inline, but only as a list of its children's descriptors: it
        is fully inline when every child's value is.
        """
        if not self.is_inline:
            return False
        if self.serializer != GATHER:
            return True
        return all(StoredValue.from_json(item).is_fully_inline for item in self.inline or [])

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict, the form kept in the metadata database."""
        data: dict[str, Any] = {
            "hash": self.hash,
            "serializer": self.serializer,
            "size": self.size,
            "type": self.type_name,
        }
        if self.is_inline:
            data["inline"] = self.inline
        if self.length is not None:
            data["length"] = self.length
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StoredValue:
        """Inverse of :meth:`to_json`."""
        return cls(
            hash=data["hash"],
            serializer=data["serializer"],
            size=data["size"],
            type_name=data["type"],
            is_inline="inline" in data,
            inline=data.get("inline"),
            length=data.get("length"),
        )


@dataclass(frozen=True)
class ItemOf:
    """Item ``index`` of a stored list: the input of one child of a dynamic fan-out."""

    value: StoredValue
    index: int


@dataclass(frozen=True)
class OutputKey:
    """Names one output of one node: what a ref stands for once the run has values."""

    node: str
    output: str = DEFAULT_OUTPUT


REF_MARKER = "__dagwell_ref__"
"""Key that marks a ref inside the JSON form of a pipeline's return value."""
