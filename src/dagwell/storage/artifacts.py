"""The artifact store: serialized values kept by content hash under one fsspec root.

What belongs here is *where the bytes go*: object paths, atomic writes, reads, and cleanup of
temporary files. How a value becomes bytes lives in :mod:`dagwell.storage.serializers`.

Layout under the root URL::

    objects/<hash[:2]>/<hash[2:]>    one file per distinct content (BLAKE3 hex digest)
    tmp/<uuid>                       a write in progress, renamed into objects/ when complete

A file appears under ``objects/`` only by an atomic rename of a complete (and, by default,
fsynced) temporary file, so a crash never leaves a half-written object. Small plain-JSON
values are not written at all: their :class:`~dagwell.core.values.StoredValue` holds them.
Since an object is never changed once renamed into place, a big array in a local store is
loaded by mapping its file copy-on-write rather than by copying it into new memory.
"""

from __future__ import annotations

import functools
import json
import os
import posixpath
import re
import sys
import threading
import time
import uuid
from contextlib import suppress
from typing import IO, TYPE_CHECKING, Any

from blake3 import blake3

from dagwell.core.values import StoredValue
from dagwell.errors import NotFoundError, StorageError
from dagwell.storage.serializers import JSON, NPY, get_serializer, serialize, type_name

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import fsspec

    from dagwell.storage.serializers import Chunk

_HASH = re.compile(r"[0-9a-f]{64}")
# Above this size BLAKE3 may hash on several threads; below it, starting them costs more.
_PARALLEL_HASH_BYTES = 4 * 1024 * 1024
# Above this size a local write overlaps hashing with writing, at the price of writing
# content that may turn out to be stored already, and overlaps writing with the disk's.
_OVERLAP_BYTES = 16 * 1024 * 1024
# A big write goes to the file in pieces of this size, each sent on to the disk as soon as
# it is written, so that the final fsync waits for the last piece only.
_WRITEBACK_BYTES = 8 * 1024 * 1024
# Arrays of at least this size are loaded from a local store by mapping the object's file
# (copy-on-write) rather than reading it into new memory.
_MAP_BYTES = 16 * 1024 * 1024


class ArtifactStore:
    """Content-addressed storage of task outputs under a local path or any fsspec URL.

    Parameters:
        url: the root, e.g. ``/data/artifacts``, ``memory://artifacts`` or
            ``s3://bucket/prefix``. A local root is created on the first write.
        fsync: on local disk, flush each object (and its folder entry) to the device before
            :meth:`put` returns, so a stored value survives a power loss.

    Example::

        store = ArtifactStore("/tmp/artifacts")
        stored = store.put(numpy.arange(10))
        assert (store.get(stored) == numpy.arange(10)).all()
    """

    def __init__(self, url: str, *, fsync: bool = True) -> None:
        self._url = url
        self._fsync = fsync
        # Local files take plain open/os.replace: fsspec's wrappers cost more than the
        # whole write of a small value, and numpy reads a real file much faster. A plain
        # local path does not even import fsspec, which costs more than a run of a few tasks.
        root = _local_root(url)
        self._fs_found: fsspec.AbstractFileSystem | None = None
        if root is None:
            from fsspec.implementations.local import LocalFileSystem

            root = self._connect()
            self._local = isinstance(self._fs, LocalFileSystem)
        else:
            self._local = True
        self._root: str = root.rstrip("/") or "/"

    def __repr__(self) -> str:
        return f"ArtifactStore({self._url!r})"

    @property
    def url(self) -> str:
        """The root URL this store was opened with."""
        return self._url

    @property
    def _fs(self) -> fsspec.AbstractFileSystem:
        # Only stores that are not plain local folders use it.
        if self._fs_found is None:
            self._connect()
        assert self._fs_found is not None
        return self._fs_found

    def _connect(self) -> str:
        import fsspec

        try:
            fs, root = fsspec.core.url_to_fs(self._url)
        except (ImportError, ValueError) as exc:
            raise StorageError(
                f"cannot open the artifact store {self._url!r}: {exc} (install the fsspec "
                "backend for its scheme, e.g. pip install s3fs, or fix DAGWELL_ARTIFACTS)"
            ) from exc
        self._fs_found = fs
        return str(root)

    def path_for(self, hash: str) -> str:
        """Where the object ``hash`` lives: a local path, or a URL for other filesystems.

        Raises :class:`~dagwell.errors.NotFoundError` if ``hash`` is not a BLAKE3 hex digest.

        Example::

            path = store.path_for(stored.hash)
            assert path.endswith(f"objects/{stored.hash[:2]}/{stored.hash[2:]}")
        """
        path = self._object_path(hash)
        return path if self._local else self._fs.unstrip_protocol(path)

    def exists(self, hash: str) -> bool:
        """Whether the object ``hash`` is stored (inline values never are).

        Example::

            stored = store.put(numpy.zeros(3))
            assert store.exists(stored.hash)
        """
        if _HASH.fullmatch(hash) is None:
            return False
        path = self._object_path(hash)
        return os.path.exists(path) if self._local else bool(self._fs.exists(path))

    def open(self, hash: str) -> IO[bytes]:
        """Open the object ``hash`` for binary reading; close it when done.

        Raises :class:`~dagwell.errors.NotFoundError` if it is not stored.

        Example::

            with store.open(stored.hash) as f:
                header = f.read(6)
        """
        path = self._object_path(hash)
        try:
            if self._local:
                return open(path, "rb")
            return self._fs.open(path, "rb")  # type: ignore[no-any-return]
        except FileNotFoundError:
            raise NotFoundError(f"artifact {hash} not found in {self._url}") from None
        except OSError as exc:
            raise StorageError(f"cannot read artifact {hash} from {self._url}: {exc}") from exc

    def put(self, value: Any, *, inline_limit: int = 2048) -> StoredValue:
        """Store ``value`` and describe it; equal values are stored once.

        A plain-JSON value of at most ``inline_limit`` bytes is not written: the returned
        :class:`~dagwell.core.values.StoredValue` holds it (with its hash all the same).
        JSON holding NaN or infinities is always written, since the inline form goes into
        the metadata database and strict JSON cannot hold those. Raises
        :class:`~dagwell.errors.SerializationError` if the value cannot be serialized and
        :class:`~dagwell.errors.StorageError` if it cannot be written.

        Example::

            stored = store.put({"accuracy": 0.93})
            assert stored.is_inline and stored.serializer == "json"
        """
        serializer, chunks = serialize(value)
        size = sum(
            chunk.nbytes if isinstance(chunk, memoryview) else len(chunk) for chunk in chunks
        )
        length = len(value) if isinstance(value, (list, tuple)) else None
        if serializer is JSON and size <= inline_limit:
            # Decoded from the bytes, so later changes to ``value`` stay out of it.
            data = bytes(chunks[0])  # JSON gives one bytes chunk; this does not copy it
            inline = json.loads(data)
            if _is_strict_json(inline, data):
                return StoredValue(
                    hash=_hash(chunks, size),
                    serializer=serializer.name,
                    size=size,
                    type_name=type_name(value),
                    is_inline=True,
                    inline=inline,
                    length=length,
                )
        try:
            if not self._local:
                digest = _hash(chunks, size)
                self._write_fsspec(digest, chunks)
            elif size < _OVERLAP_BYTES:
                digest = _hash(chunks, size)
                self._write_local(digest, chunks, size)
            else:
                digest = self._write_local_while_hashing(chunks, size)
        except OSError as exc:
            raise StorageError(f"cannot write an artifact to {self._url}: {exc}") from exc
        return StoredValue(
            hash=digest,
            serializer=serializer.name,
            size=size,
            type_name=type_name(value),
            length=length,
        )

    def get(self, stored: StoredValue) -> Any:
        """Load the value ``stored`` describes; every call returns a new object.

        From a local store, a numpy array of 16 MiB or more is mapped from its object
        copy-on-write, not read: it is a plain writable ``ndarray`` that costs no copy up
        front, and what one caller writes to it reaches neither the object nor other callers.
        Raises :class:`~dagwell.errors.NotFoundError` if its object is missing.

        Example::

            stored = store.put([1, 2, 3])
            assert store.get(stored) == [1, 2, 3]
        """
        if stored.is_inline:
            inline = stored.inline
            if isinstance(inline, (list, dict)):
                # A fresh copy, as a loaded object would be: one consumer mutating its
                # input must not change what the next one gets.
                return json.loads(json.dumps(inline))
            return inline
        serializer = get_serializer(stored.serializer)
        with self.open(stored.hash) as fileobj:
            if serializer is NPY and self._local and os.name == "posix":
                # Objects are never changed in place (a write renames a new file over),
                # so a big array can map its object copy-on-write instead of copying it
                # into new memory. Not on Windows, where a mapped file cannot be deleted.
                return NPY.load(fileobj, map_from=_MAP_BYTES)
            return serializer.load(fileobj)

    def sweep_temporary(self, older_than: float = 3600) -> int:
        """Delete temporary files left by writes that died, and return how many.

        Only files untouched for ``older_than`` seconds go, so writes in progress survive.

        Example::

            removed = store.sweep_temporary(older_than=24 * 3600)
        """
        cutoff = time.time() - older_than
        folder = posixpath.join(self._root, "tmp")
        removed = 0
        if self._local:
            try:
                entries = list(os.scandir(folder))
            except FileNotFoundError:
                return 0
            for entry in entries:
                with suppress(FileNotFoundError):
                    if entry.stat().st_mtime < cutoff:
                        os.remove(entry.path)
                        removed += 1
            return removed
        if not self._fs.exists(folder):
            return 0
        for path in self._fs.ls(folder, detail=False):
            with suppress(FileNotFoundError):
                if self._fs.modified(path).timestamp() < cutoff:
                    self._fs.rm_file(path)
                    removed += 1
        return removed

    def _object_path(self, hash: str) -> str:
        if _HASH.fullmatch(hash) is None:
            raise NotFoundError(f"{hash!r} is not an artifact hash (64 lowercase hex digits)")
        return posixpath.join(self._root, "objects", hash[:2], hash[2:])

    def _write_local(self, digest: str, chunks: Sequence[Chunk], size: int) -> None:
        # The hash is known before writing, so content already stored costs one stat.
        target = self._object_path(digest)
        if os.path.exists(target):
            return
        temporary = self._write_temporary(chunks, size)
        self._commit(temporary, target)

    def _write_local_while_hashing(self, chunks: Sequence[Chunk], size: int) -> str:
        # For big values, hashing first then writing would read the memory twice in turn;
        # BLAKE3 releases the GIL, so a thread hashes while this one writes.
        hasher = blake3()
        hashing = threading.Thread(target=_update, args=(hasher, chunks), daemon=True)
        hashing.start()
        try:
            temporary = self._write_temporary(chunks, size)
        finally:
            hashing.join()
        digest: str = hasher.hexdigest()
        target = self._object_path(digest)
        if os.path.exists(target):
            os.remove(temporary)
        else:
            self._commit(temporary, target)
        return digest

    def _write_temporary(self, chunks: Sequence[Chunk], size: int) -> str:
        temporary = posixpath.join(self._root, "tmp", uuid.uuid4().hex)
        # Folders are made only when an open or rename fails for lack of them, which keeps
        # the common case to the system calls the write itself needs.
        try:
            fileobj = open(temporary, "xb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            os.makedirs(posixpath.dirname(temporary), exist_ok=True)
            fileobj = open(temporary, "xb")  # noqa: SIM115
        try:
            with fileobj:
                if size >= _OVERLAP_BYTES and hasattr(os, "posix_fallocate"):
                    # Reserving the blocks up front lets the filesystem allocate them in one
                    # go, as np.save does; a write to a growing file is markedly slower.
                    # Where it fails, the write below still works, or reports the error.
                    with suppress(OSError):
                        os.posix_fallocate(fileobj.fileno(), 0, size)
                big = self._fsync and size >= _OVERLAP_BYTES
                if big and (start_writeback := _writeback_starter()) is not None:
                    _write_with_writeback(fileobj, chunks, start_writeback)
                else:
                    for chunk in chunks:
                        fileobj.write(chunk)
                if self._fsync:
                    fileobj.flush()
                    os.fsync(fileobj.fileno())
        except BaseException:
            with suppress(FileNotFoundError):
                os.remove(temporary)
            raise
        return temporary

    def _commit(self, temporary: str, target: str) -> None:
        # os.replace is atomic, and a concurrent writer of the same hash wrote the same bytes.
        try:
            try:
                os.replace(temporary, target)
            except FileNotFoundError:
                os.makedirs(posixpath.dirname(target), exist_ok=True)
                os.replace(temporary, target)
        except BaseException:
            with suppress(FileNotFoundError):
                os.remove(temporary)
            raise
        if self._fsync:
            _fsync_folder(posixpath.dirname(target))

    def _write_fsspec(self, digest: str, chunks: Sequence[Chunk]) -> None:
        fs = self._fs
        target = self._object_path(digest)
        if fs.exists(target):
            return
        temporary = posixpath.join(self._root, "tmp", uuid.uuid4().hex)
        try:
            with fs.open(temporary, "wb") as fileobj:
                for chunk in chunks:
                    fileobj.write(chunk)
            fs.mv(temporary, target)
        except BaseException:
            with suppress(FileNotFoundError):
                fs.rm_file(temporary)
            raise


def _local_root(url: str) -> str | None:
    """The folder a plain local path or ``file://`` URL names, as fsspec would give it.

    None for anything else (other protocols, chained URLs, any other colon, Windows), which
    is left to fsspec.
    """
    if os.sep != "/":
        return None
    path = url
    for prefix in ("file://", "local://"):
        if path.startswith(prefix):
            path = path[len(prefix) :]
            break
    if ":" in path:
        return None
    # fsspec's make_path_posix: absolute paths as they are, "~" expanded, others from cwd.
    if path.startswith("/"):
        return path
    if path.startswith("~"):
        return os.path.expanduser(path)
    if path.startswith("./"):
        path = path[2:]
    elif path == ".":
        path = ""
    return f"{os.getcwd()}/{path}"


def _write_with_writeback(
    fileobj: IO[bytes], chunks: Sequence[Chunk], start_writeback: Callable[[int, int], None]
) -> None:
    # The page cache would otherwise hold the whole value until fsync, which then waits
    # for all of it: sending each piece on as soon as it is written lets the disk work
    # while the next piece is copied. fsync still decides when the object is durable.
    fileno = fileobj.fileno()
    written = sent = 0
    for chunk in chunks:
        view = memoryview(chunk)
        if view.ndim != 1 or view.itemsize != 1:
            view = view.cast("B")  # slices count bytes, not items
        for start in range(0, view.nbytes, _WRITEBACK_BYTES):
            piece = view[start : start + _WRITEBACK_BYTES]
            fileobj.write(piece)
            written += piece.nbytes
            if written - sent >= _WRITEBACK_BYTES:
                fileobj.flush()  # what the file object still buffers must reach the file
                start_writeback(fileno, sent)
                sent = written


@functools.cache
def _writeback_starter() -> Callable[[int, int], None] | None:
    """``start(fd, offset)``: begin writing the file's dirty pages from ``offset`` to disk.

    Linux's ``sync_file_range(SYNC_FILE_RANGE_WRITE)``, which only starts the write; None
    where it is missing. It is a hint: failures are ignored, and fsync does the real work.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        sync_file_range = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    sync_file_range.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    sync_file_range.restype = ctypes.c_int
    write = 2  # SYNC_FILE_RANGE_WRITE, from <fcntl.h>

    def start(fileno: int, offset: int) -> None:
        sync_file_range(fileno, offset, 0, write)  # 0: through the end of the file

    return start


def _is_strict_json(value: Any, data: bytes) -> bool:
    # The inline form goes into the metadata database, whose JSON may not hold NaN or
    # infinities. Only text that could hold them (rarely) pays for the exact check.
    if b"NaN" not in data and b"Infinity" not in data:
        return True
    try:
        json.dumps(value, allow_nan=False)
    except ValueError:
        return False
    return True


def _hash(chunks: Sequence[Chunk], size: int) -> str:
    hasher = blake3(max_threads=blake3.AUTO) if size >= _PARALLEL_HASH_BYTES else blake3()
    _update(hasher, chunks)
    digest: str = hasher.hexdigest()
    return digest


def _update(hasher: blake3, chunks: Sequence[Chunk]) -> None:
    for chunk in chunks:
        hasher.update(chunk)


def _fsync_folder(path: str) -> None:
    # The rename is durable only once the folder entry is; Windows cannot open folders.
    if os.name != "posix":
        return
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
