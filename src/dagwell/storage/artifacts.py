"""The artifact store: serialized values kept by content hash under one fsspec root.

What belongs here is *where the bytes go*: object paths, atomic writes, reads, and cleanup of
temporary files. How a value becomes bytes lives in :mod:`dagwell.storage.serializers`.

Layout under the root URL::

    objects/<hash[:2]>/<hash[2:]>    one file per distinct content (BLAKE3 hex digest)
    tmp/<uuid>                       a write in progress, renamed into objects/ when complete
    logs/<run>/<node>.<attempt>.log  attempt logs, copied here when the store is not local

On a filesystem, a file appears under ``objects/`` only by an atomic rename of a complete
(and, by default, fsynced) temporary file, so a crash never leaves a half-written object.
An object store (S3 and S3-compatible servers, GCS, Azure) cannot rename atomically, but
shows an object only once its upload has completed, whole: there each object is uploaded
straight to its content address, and a failed upload is aborted, never completed. Small
plain-JSON values are not written at all: their :class:`~dagwell.core.values.StoredValue`
holds them. Since an object is never changed once in place, a big array in a local store
is loaded by mapping its file copy-on-write rather than by copying it into new memory;
from other stores values are read into memory. Whatever error a remote filesystem raises
(botocore's connection errors, for one) reaches callers as a
:class:`~dagwell.errors.StorageError`, or :class:`~dagwell.errors.NotFoundError`.
"""

from __future__ import annotations

import functools
import io
import json
import os
import posixpath
import re
import sys
import threading
import time
import uuid
from contextlib import contextmanager, suppress
from typing import IO, TYPE_CHECKING, Any

from blake3 import blake3

from dagwell.core.values import StoredValue
from dagwell.errors import NotFoundError, StorageError
from dagwell.storage.filesystems import filesystem_for, is_object_store
from dagwell.storage.serializers import JSON, NPY, get_serializer, serialize, type_name

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    import fsspec

    from dagwell.storage.filesystems import StorageConfig
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
# An upload to an object store goes in parts of this size (S3 wants at least 5 MiB each);
# each part is copied once into the upload buffer, so this bounds the extra memory.
_PART_BYTES = 32 * 1024 * 1024


class ArtifactStore:
    """Content-addressed storage of task outputs under a local path or any fsspec URL.

    Parameters:
        url: the root, e.g. ``/data/artifacts``, ``memory://artifacts`` or
            ``s3://bucket/prefix``. A local root is created on the first write.
        fsync: on local disk, flush each object (and its folder entry) to the device before
            :meth:`put` returns, so a stored value survives a power loss.
        config: for ``s3://`` roots, where the S3-compatible endpoint comes from: a
            :class:`~dagwell.settings.Settings` or an environment mapping (by default this
            process's environment; see :mod:`dagwell.storage.filesystems`).

    Example::

        store = ArtifactStore("/tmp/artifacts")
        stored = store.put(numpy.arange(10))
        assert (store.get(stored) == numpy.arange(10)).all()
    """

    def __init__(
        self, url: str, *, fsync: bool = True, config: StorageConfig | None = None
    ) -> None:
        self._url = url
        self._fsync = fsync
        self._config = config
        self._object_store = False
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
    def is_local(self) -> bool:
        """Whether the root is a folder on this machine's disk (a path or ``file://``)."""
        return self._local

    @property
    def _fs(self) -> fsspec.AbstractFileSystem:
        # Only stores that are not plain local folders use it.
        if self._fs_found is None:
            self._connect()
        assert self._fs_found is not None
        return self._fs_found

    def _connect(self) -> str:
        try:
            fs, root = filesystem_for(self._url, self._config)
        except StorageError as exc:
            raise StorageError(
                f"cannot open the artifact store (DAGWELL_ARTIFACTS): {exc}"
            ) from exc.__cause__
        self._fs_found = fs
        self._object_store = is_object_store(fs)
        return root

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
        if self._local:
            return os.path.exists(path)
        with self._remote_errors(f"look for artifact {hash} in"):
            return bool(self._fs.exists(path))

    def open(self, hash: str) -> IO[bytes]:
        """Open the object ``hash`` for binary reading; close it when done.

        Raises :class:`~dagwell.errors.NotFoundError` if it is not stored.

        Example::

            with store.open(stored.hash) as f:
                header = f.read(6)
        """
        if not self._local:
            return self._open_remote(hash)
        path = self._object_path(hash)
        try:
            return open(path, "rb")
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
                with self._remote_errors("write an artifact to"):
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
        From any other store (S3), values are read into memory: most objects are fetched
        whole in one request; an array of 16 MiB or more is read in parts of 32 MiB straight
        into its own memory, so it takes little more than its size while loading. Raises
        :class:`~dagwell.errors.NotFoundError` if its object is missing.

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
        if not self._local:
            if serializer is NPY and stored.size >= _MAP_BYTES:
                # numpy.load reads a file object into the array in small pieces; a buffer of
                # a part's size makes each part one request, and the whole object is never
                # in memory beside the array.
                with (
                    self._remote_errors(f"read artifact {stored.hash} from"),
                    self._open_remote(stored.hash, block_size=_PART_BYTES) as fileobj,
                ):
                    return NPY.load(fileobj)
            # One request for the whole object, where a file object would make several.
            return serializer.load(io.BytesIO(self._fetch(stored.hash)))
        with self.open(stored.hash) as fileobj:
            if serializer is NPY and self._local and os.name == "posix":
                # Objects are never changed in place (a write renames a new file over),
                # so a big array can map its object copy-on-write instead of copying it
                # into new memory. Not on Windows, where a mapped file cannot be deleted.
                return NPY.load(fileobj, map_from=_MAP_BYTES)
            return serializer.load(fileobj)

    def put_file(self, name: str, data: bytes) -> str:
        """Write ``data`` to the file ``name`` beside the objects (replacing it); its URL.

        For files that are not content-addressed, such as attempt logs
        (``logs/<run>/<node>.<attempt>.log``). ``name`` is a relative ``/``-separated path
        outside ``objects/`` and ``tmp/``. On an object store the file appears whole; on a
        filesystem it is renamed into place like an object.

        Example::

            url = store.put_file("logs/3f2a/train.1.log", b"epoch 1 loss 0.3")
            assert store.read_file("logs/3f2a/train.1.log") == b"epoch 1 loss 0.3"
        """
        path = self._named_path(name)
        if not self._local:
            with self._remote_errors(f"write {name} to"):
                if self._object_store:
                    self._upload(path, [data])
                else:
                    self._fs.pipe_file(path, data)
            return str(self._fs.unstrip_protocol(path))
        try:
            self._commit(self._write_temporary([data], len(data)), path)
        except OSError as exc:
            raise StorageError(f"cannot write {name} to {self._url}: {exc}") from exc
        return path

    def read_file(self, name: str) -> bytes:
        """The bytes of the file ``name`` that :meth:`put_file` wrote.

        Raises :class:`~dagwell.errors.NotFoundError` if there is none.

        Example::

            text = store.read_file("logs/3f2a/train.1.log").decode()
        """
        path = self._named_path(name)
        if not self._local:
            with self._remote_errors(f"read {name} from", missing=name):
                return bytes(self._fs.cat_file(path))
        try:
            with open(path, "rb") as fileobj:
                return fileobj.read()
        except FileNotFoundError:
            raise NotFoundError(f"{name} not found in {self._url}") from None
        except OSError as exc:
            raise StorageError(f"cannot read {name} from {self._url}: {exc}") from exc

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

    def _named_path(self, name: str) -> str:
        parts = name.split("/")
        if (
            not name
            or parts[0] in ("objects", "tmp")
            or any(part in ("", ".", "..") or "\0" in part for part in parts)
        ):
            raise NotFoundError(
                f"{name!r} is not a file name in the artifact store (a relative path outside "
                "objects/ and tmp/, without '.' or '..' parts)"
            )
        return posixpath.join(self._root, name)

    def _open_remote(self, hash: str, block_size: int | None = None) -> IO[bytes]:
        path = self._object_path(hash)
        options = {} if block_size is None else {"block_size": block_size}
        with self._remote_errors(f"read artifact {hash} from", missing=f"artifact {hash}"):
            return self._fs.open(path, "rb", cache_type="readahead", **options)  # type: ignore[no-any-return]

    def _fetch(self, hash: str) -> bytes:
        path = self._object_path(hash)
        with self._remote_errors(f"read artifact {hash} from", missing=f"artifact {hash}"):
            return bytes(self._fs.cat_file(path))

    @contextmanager
    def _remote_errors(self, doing: str, missing: str | None = None) -> Iterator[None]:
        """Turn whatever a remote filesystem raises into our errors, the cause kept.

        ``missing`` names what a FileNotFoundError means is not there (NotFoundError);
        without it, that too is a StorageError.
        """
        try:
            yield
        except (NotFoundError, StorageError):
            raise
        except FileNotFoundError as exc:
            if missing is None:
                raise StorageError(f"cannot {doing} {self._url}: {exc}") from exc
            raise NotFoundError(f"{missing} not found in {self._url}") from None
        except Exception as exc:  # each fsspec backend has its own errors (botocore's)
            raise StorageError(f"cannot {doing} {self._url}: {exc}") from exc

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
        # The hash is known before writing, so content already stored costs one request.
        if fs.exists(target):
            return
        if self._object_store:
            self._upload(target, chunks)
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

    def _upload(self, path: str, chunks: Sequence[Chunk]) -> None:
        """Upload ``chunks`` as the object ``path``, visible only once complete.

        A small object goes in one PUT, a big one as a multipart upload that the store
        shows only when it is completed, on close. Any failure before that aborts the
        upload: closing (or collecting) the file would complete it with what it has.
        """
        fileobj = self._fs.open(path, "wb", block_size=_PART_BYTES)
        try:
            for chunk in chunks:
                view = memoryview(chunk)
                if view.ndim != 1 or view.itemsize != 1:
                    view = view.cast("B")
                # Part by part, so the upload buffer never holds more than about one part.
                for start in range(0, view.nbytes, _PART_BYTES):
                    fileobj.write(view[start : start + _PART_BYTES])
        except BaseException:
            _abandon(fileobj)
            raise
        fileobj.close()


def _abandon(fileobj: Any) -> None:
    """Abort an upload in progress, so that nothing of it ever becomes visible."""
    try:
        discard = getattr(fileobj, "discard", None)
        if discard is not None:
            discard()  # s3fs: abort the multipart upload, drop the buffer
    finally:
        # Marked closed, the file's finalizer will not complete the upload with a part.
        fileobj.closed = True


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
