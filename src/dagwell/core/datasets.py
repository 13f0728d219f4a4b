"""Datasets: external inputs (a file, a folder, an fsspec URL) whose content hash is a version.

``dw.dataset("data/churn.csv")`` is a plain marker value. Placed among a task's arguments,
it is hashed at run start, recorded with the run, and reaches the task as its path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dagwell.errors import DefinitionError


@dataclass(frozen=True)
class Dataset:
    """An external input of a pipeline.

    ``uri`` is a local path (made absolute when the run starts) or an fsspec URL;
    ``snapshot=True`` copies its content into the artifact store, so the exact version can
    be restored when a run is re-run after the data changed.

    >>> raw = ingest(dw.dataset("data/churn.csv", snapshot=True))
    """

    uri: str
    snapshot: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.uri, str) or not self.uri.strip():
            raise DefinitionError(
                f"dw.dataset() needs a path or URL as a non-empty string, got {self.uri!r}"
            )


def dataset(uri: str, snapshot: bool = False) -> Dataset:
    """Mark ``uri`` as an external input; its content hash becomes its recorded version.

    >>> features = prepare(dw.dataset("s3://bucket/raw/2026-11.parquet"))
    """
    return Dataset(str(uri), snapshot)


@dataclass(frozen=True)
class DatasetVersion:
    """One version of a dataset: its content hash and size, and where a snapshot lives."""

    uri: str
    version: str
    size: int
    files: int
    snapshot_hash: str | None = None

    @property
    def short(self) -> str:
        """The first 12 characters of the version, as shown in tables."""
        return self.version[:12]


def find_datasets(value: object) -> list[Dataset]:
    """Every :class:`Dataset` inside ``value``, searching lists, tuples, sets and dicts."""
    if isinstance(value, Dataset):
        return [value]
    if isinstance(value, (list, tuple, set, frozenset)):
        return [d for item in value for d in find_datasets(item)]
    if isinstance(value, dict):
        return [d for item in value.values() for d in find_datasets(item)]
    return []


def replace_datasets(value: Any, replace: Callable[[Dataset], Any]) -> Any:
    """A copy of ``value`` with each :class:`Dataset` inside it swapped for ``replace(it)``."""
    if isinstance(value, Dataset):
        return replace(value)
    if isinstance(value, list):
        return [replace_datasets(v, replace) for v in value]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(replace_datasets(v, replace) for v in value)
    if isinstance(value, dict):
        return {k: replace_datasets(v, replace) for k, v in value.items()}
    return value
