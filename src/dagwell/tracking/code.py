"""Code snapshots: the project's source and git state when a run starts, kept as one artifact.

The project is the git work tree holding the pipeline's file, or that file's folder outside
git. Its source is every imported module whose file lies in the project, except what is
installed (the virtualenv, site-packages) and dagwell itself: the pipeline's module (also
when it is ``__main__``) and the helpers it imports, directly or not. Paths are stored
relative to the project root. Inside git, the commit, whether tracked files differ from it,
and ``git diff HEAD`` go with them, read by the ``git`` command with a short timeout.

A snapshot is one JSON document in the artifact store, so equal snapshots are stored once;
the run row keeps its hash.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagwell.core.records import CodeSnapshot
from dagwell.errors import StorageError

if TYPE_CHECKING:
    from dagwell.storage.artifacts import ArtifactStore

DIFF_LIMIT = 1_000_000
"""The most bytes of ``git diff HEAD`` a snapshot keeps; longer diffs are cut and flagged."""

GIT_TIMEOUT = 3.0
"""Seconds the ``git`` commands of one snapshot may take before they are given up."""

_INSTALLED_PARTS = frozenset({"site-packages", "dist-packages"})
_DAGWELL_FOLDER = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def snapshot_code(fn: Callable[..., Any]) -> CodeSnapshot:
    """Snapshot the project that defines ``fn`` (a pipeline's body function).

    >>> code = snapshot_code(churn.fn)
    >>> code.entry, sorted(code.files), code.git and code.git["dirty"]
    ('pipeline.py', ['helpers.py', 'pipeline.py'], False)
    """
    entry = _source_file(fn)
    start = entry.parent if entry is not None else Path.cwd()
    git_root = _git_root(start)
    # git runs in its own processes while this one reads the source files.
    git = _GitQuery(git_root) if git_root is not None else None
    root = git_root or start
    files = project_files(root, entry)
    return CodeSnapshot(
        files=files,
        git=git.result() if git is not None else None,
        entry=_relative(str(entry), _root_forms(root)) if entry is not None else None,
        root=str(root.resolve()),
    )


def project_files(root: Path, entry: Path | None = None) -> dict[str, str]:
    """The text of each imported module's file under ``root``, by path relative to it.

    Installed modules (under ``sys.prefix`` or a site-packages folder) and dagwell's own are
    left out, unless ``entry`` (the pipeline's file) is itself one of dagwell's modules.
    ``entry`` is always included, when it is under ``root``.

    >>> sorted(project_files(Path("."), Path("pipeline.py").resolve()))
    ['helpers.py', 'pipeline.py']
    """
    roots = _root_forms(root)
    excluded = _excluded_folders(roots, entry)
    files: dict[str, str] = {}
    for path in _module_files(entry):
        relative = _relative(path, roots)
        if relative is None or relative in files:
            continue
        if any(path.startswith(folder) for folder in excluded):
            continue
        if _INSTALLED_PARTS.intersection(relative.split("/")):
            continue
        try:
            with open(path, encoding="utf-8", errors="replace") as source:
                files[relative] = source.read()
        except OSError:  # deleted or unreadable since it was imported
            continue
    return dict(sorted(files.items()))


def save_code(store: ArtifactStore, snapshot: CodeSnapshot) -> str:
    """Store ``snapshot`` as one JSON artifact and return its hash (equal ones share it).

    >>> run_row_code_hash = save_code(artifact_store, snapshot_code(churn.fn))
    """
    # Never inline, however small: the run row holds only the hash.
    stored = store.put(snapshot.to_dict(), inline_limit=-1)
    if stored.serializer != "json":
        raise StorageError(f"a code snapshot must be stored as JSON, not {stored.serializer}")
    return stored.hash


def _source_file(fn: Callable[..., Any]) -> Path | None:
    module = sys.modules.get(getattr(fn, "__module__", "") or "")
    name = getattr(module, "__file__", None)
    if not name:
        code = getattr(fn, "__code__", None)
        name = getattr(code, "co_filename", None)
    if not name or not os.path.isfile(name):  # "<stdin>", a notebook cell
        return None
    return Path(os.path.abspath(name))


def _git_root(start: Path) -> Path | None:
    """The nearest folder from ``start`` up holding ``.git`` (a folder, or a worktree's file)."""
    for folder in (start, *start.parents):
        if os.path.exists(os.path.join(folder, ".git")):
            return folder
    return None


def _root_forms(root: Path) -> tuple[str, ...]:
    """``root`` as given and with links resolved, each ending in a separator."""
    forms = {os.path.abspath(root), os.path.realpath(root)}
    return tuple(form.rstrip(os.sep) + os.sep for form in sorted(forms))


def _relative(path: str, roots: tuple[str, ...]) -> str | None:
    # Plain strings: a Path per imported module would cost more than the rest together.
    for root in roots:
        if path.startswith(root):
            return path[len(root) :].replace(os.sep, "/")
    return None


def _module_files(entry: Path | None) -> Iterable[str]:
    """The absolute ``.py`` file of every imported module, the pipeline's own first."""
    if entry is not None:
        yield str(entry)
    for module in list(sys.modules.values()):
        name = getattr(module, "__file__", None)
        if isinstance(name, str) and name.endswith(".py"):
            # Imported files are nearly always absolute already; abspath costs more than
            # the rest of the walk over a thousand modules.
            yield name if os.path.isabs(name) else os.path.abspath(name)


def _excluded_folders(roots: tuple[str, ...], entry: Path | None) -> tuple[str, ...]:
    """Folders whose modules are installed, not the project's, each ending in a separator.

    A prefix that holds the project itself (Python installed in ``/usr``, a project in
    ``/usr/src/app``) is not excluded as a whole; its site-packages still are.
    """
    # The standard library and site-packages live under these; a site-packages folder
    # elsewhere (--target, a user install) is caught by its name in project_files.
    candidates = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    folders = []
    for candidate in candidates:
        forms = {os.path.abspath(candidate), os.path.realpath(candidate)}
        for form in forms:
            folder = form.rstrip(os.sep) + os.sep
            if not any(root.startswith(folder) for root in roots):
                folders.append(folder)
    package = _DAGWELL_FOLDER + os.sep
    if entry is None or not str(entry).startswith(package):
        folders.append(package)
    return tuple(folders)


class _GitQuery:
    """``git diff HEAD`` started in its own process, collected by :meth:`result`.

    The commit is read from the repository's files (``HEAD``, loose and packed refs), which
    spares a second ``git`` process: each costs a few milliseconds of a run's start. Only
    a layout this does not know (reftable) asks ``git rev-parse``.
    """

    def __init__(self, root: Path) -> None:
        self._root = root
        self._deadline = time.monotonic() + GIT_TIMEOUT
        self._error: str | None = None
        self._diff: subprocess.Popen[bytes] | None = None
        try:
            self._diff = _git(root, "diff", "HEAD", "--no-color", "--no-ext-diff", "--no-textconv")
        except OSError as exc:  # no git installed
            self._error = f"git could not be run: {exc}"

    def result(self) -> dict[str, Any]:
        """``{"commit", "dirty", "diff", "diff_truncated"}``, with ``"error"`` if git failed.

        ``commit`` is None before the first commit; ``dirty`` says whether tracked files
        (staged or not) differ from it, as ``git diff HEAD`` shows them.
        """
        info: dict[str, Any] = {"commit": None, "dirty": None, "diff": None}
        info["diff_truncated"] = False
        try:
            info["commit"] = _head_commit(self._root)
        except _UnknownLayout:
            info["commit"] = self._ask_commit()
        if self._diff is None:
            info["error"] = self._error
            return info
        try:
            out, err = self._diff.communicate(timeout=self._remaining())
        except subprocess.TimeoutExpired:
            self._diff.kill()
            self._diff.communicate()
            info["error"] = f"git took more than {GIT_TIMEOUT:g}s; no diff kept"
            return info
        if self._diff.returncode != 0:
            if info["commit"] is not None:  # without a commit there is no HEAD to diff
                info["error"] = _first_line(err) or f"git diff exited {self._diff.returncode}"
            return info
        info["dirty"] = bool(out)
        info["diff_truncated"] = len(out) > DIFF_LIMIT
        info["diff"] = out[:DIFF_LIMIT].decode("utf-8", "replace")
        return info

    def _remaining(self) -> float:
        return max(0.0, self._deadline - time.monotonic())

    def _ask_commit(self) -> str | None:
        try:
            process = _git(self._root, "rev-parse", "--verify", "--quiet", "HEAD")
            out, _ = process.communicate(timeout=self._remaining())
        except (OSError, subprocess.TimeoutExpired):
            return None
        if process.returncode != 0:
            return None
        return out.decode().strip() or None


class _UnknownLayout(Exception):
    """The repository keeps its refs in a way :func:`_head_commit` does not read."""


def _head_commit(root: Path) -> str | None:
    """The commit ``HEAD`` points at, read from the files under ``.git``; None if unborn."""
    try:
        git_dir = _git_dir(root)
        head = _read(git_dir / "HEAD")
        if not head.startswith("ref:"):
            return _object_id(head)  # a detached HEAD holds the id itself
        ref = head[len("ref:") :].strip()
        common = git_dir
        if (git_dir / "commondir").is_file():  # a linked worktree shares the main refs
            common = (git_dir / _read(git_dir / "commondir")).resolve()
        if (common / "reftable").exists():
            raise _UnknownLayout
        for folder in dict.fromkeys((git_dir, common)):
            if (folder / ref).is_file():
                return _object_id(_read(folder / ref))
        packed = common / "packed-refs"
        if packed.is_file():
            for line in _read(packed).splitlines():
                oid, _, name = line.partition(" ")
                if name == ref:
                    return _object_id(oid)
        return None  # a branch with no commit yet
    except OSError:
        raise _UnknownLayout from None


def _git_dir(root: Path) -> Path:
    dot_git = root / ".git"
    if dot_git.is_dir():
        return dot_git
    pointer = _read(dot_git)  # a worktree or submodule: "gitdir: <path>"
    if not pointer.startswith("gitdir:"):
        raise _UnknownLayout
    return (root / pointer[len("gitdir:") :].strip()).resolve()


def _object_id(text: str) -> str:
    oid = text.strip()
    if len(oid) not in (40, 64) or any(c not in "0123456789abcdef" for c in oid):
        raise _UnknownLayout
    return oid


def _read(path: Path) -> str:
    with open(path, encoding="utf-8") as file:
        return file.read().strip()


def _git(root: Path, *args: str) -> subprocess.Popen[bytes]:
    # No optional locks: a snapshot must not take the index lock from the user's own git.
    return subprocess.Popen(
        ["git", "-C", str(root), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
    )


def _first_line(data: bytes) -> str:
    text = data.decode("utf-8", "replace").strip()
    return text.splitlines()[0] if text else ""
