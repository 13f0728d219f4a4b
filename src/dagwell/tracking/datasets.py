"""Hashing datasets into versions, and snapshotting them into the artifact store.

A file's version is the BLAKE3 hash of its bytes. A folder's is the hash of its sorted
relative paths with each file's hash, so renaming, adding or editing any file changes it.
Remote URLs go through fsspec, so ``s3://`` and others work the same way.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import blake3

from dagwell.core.datasets import Dataset, DatasetVersion
from dagwell.errors import DefinitionError

if TYPE_CHECKING:
    from dagwell.storage.artifacts import ArtifactStore

_CHUNK = 1 << 22


def resolve_uri(uri: str) -> str:
    """Local paths made absolute (``~`` expanded); URLs with a scheme left as they are.

    A NUL byte, which no path can hold, is a :class:`DefinitionError` (a URL typed in a
    page or a query may carry one).
    """
    if "\0" in uri:
        raise DefinitionError(f"not a path or URL: {uri!r} (it holds a NUL byte)")
    if "://" in uri:
        return uri
    return str(Path(uri).expanduser().resolve())


def _filesystem(uri: str) -> tuple[Any, str]:
    from fsspec.core import url_to_fs

    fs, path = url_to_fs(uri)
    return fs, str(path)


def version_of(dataset: Dataset) -> DatasetVersion:
    """Hash ``dataset``'s content; a missing path is a :class:`DefinitionError`.

    >>> version_of(Dataset("data/churn.csv")).short
    '4f1c2a9b03de'
    """
    uri = resolve_uri(dataset.uri)
    return _version(uri, _listing(uri))


def snapshot(version: DatasetVersion, store: ArtifactStore) -> str:
    """Copy the dataset's files into ``store``; the hash of the manifest that lists them.

    Each file is stored by content hash, so unchanged files cost nothing the second time.
    The whole of each file passes through memory once. The files are stored first and the
    manifest last, so a reader that finds the manifest finds every file it lists: on S3,
    where each object appears whole when its upload completes, as on local disk.
    """
    files = {
        relative: store.put(_read_all(opener)).to_json()
        for relative, opener in _listing(version.uri)
    }
    manifest = {"uri": version.uri, "version": version.version, "files": files}
    return store.put(manifest, inline_limit=-1).hash


def _read_all(opener: Opener) -> bytes:
    with opener() as f:
        return f.read()


def _listing(uri: str) -> list[tuple[str, Opener]]:
    """``(relative path, opener)`` of every file in the dataset, sorted; "" for one file."""
    if "://" not in uri:
        root = Path(uri)
        if not root.exists():
            raise DefinitionError(
                f"dataset {uri!r} does not exist; check the path given to dw.dataset()"
            )
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        return [
            (p.relative_to(root).as_posix() if p != root else "", _opener(open, p)) for p in files
        ]
    fs, path = _filesystem(uri)
    if not fs.exists(path):
        raise DefinitionError(f"dataset {uri!r} does not exist")
    found = sorted(fs.find(path)) if fs.isdir(path) else [path]
    return [(_relative(f, path), _opener(fs.open, f)) for f in found]


Opener = Callable[[], IO[bytes]]


def _opener(open_function: Any, path: Any) -> Opener:
    return lambda: open_function(path, "rb")


def _version(uri: str, files: list[tuple[str, Opener]]) -> DatasetVersion:
    if len(files) == 1 and files[0][0] == "":
        digest, size = _hash_file(files[0][1])
        return DatasetVersion(uri, digest, size, 1)
    listing = blake3.blake3()
    total = 0
    for relative, opener in files:
        digest, size = _hash_file(opener)
        total += size
        listing.update(f"{relative}\0{digest}\n".encode())
    return DatasetVersion(uri, listing.hexdigest(), total, len(files))


def _hash_file(opener: Opener) -> tuple[str, int]:
    hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
    size = 0
    with opener() as f:
        while chunk := f.read(_CHUNK):
            hasher.update(chunk)
            size += len(chunk)
    return hasher.hexdigest(), size


def _relative(found: str, root: str) -> str:
    relative = os.path.relpath(found, root) if found != root else ""
    return "" if relative == "." else relative.replace(os.sep, "/")


def restore(snapshot_hash: str, store: ArtifactStore, folder: Path) -> str:
    """Write a snapshot's files under ``folder``; the path standing for the dataset.

    >>> restore(version.snapshot_hash, store, Path(".dagwell/restored/abc"))
    '.dagwell/restored/abc/churn.csv'
    """
    import json

    from dagwell.core.values import StoredValue

    with store.open(snapshot_hash) as f:
        manifest = json.load(f)
    name = Path(manifest["uri"].rstrip("/")).name or "dataset"
    target = folder / name
    for relative, stored in manifest["files"].items():
        path = target / relative if relative else target
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(store.get(StoredValue.from_json(stored)))
    return str(target)
