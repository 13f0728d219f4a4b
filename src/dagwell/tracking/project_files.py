"""Project files: whether a source file is the user's own code, not installed code.

The standard library, site-packages, the Python prefixes and dagwell are not the
project's, but for the task's own file (the demo's helpers count). Answers are remembered
for the process; the installed folders are read on first use.
"""

from __future__ import annotations

import functools
import os
import sys
import sysconfig

_DAGWELL_FOLDER = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


@functools.lru_cache(maxsize=1)
def _installed_folders() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(folders that are never the project's, Python prefixes), each ending in a separator.

    Read on first use, not at import, so a test or a tool may change ``sys.prefix`` first.
    """
    always = {os.path.dirname(os.__file__)}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            always.add(path)
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    return _folder_forms(always), _folder_forms(prefixes)


def _folder_forms(paths: set[str]) -> tuple[str, ...]:
    forms = set()
    for path in paths:
        for form in (os.path.abspath(path), os.path.realpath(path)):
            forms.add(form.rstrip(os.sep) + os.sep)
    return tuple(sorted(forms))


@functools.lru_cache(maxsize=4096)
def is_project_file(file: str, anchor: str | None) -> bool:
    """Whether ``file`` is the user's own source, not installed code nor dagwell's.

    ``anchor`` is the task's own file. When it is one of dagwell's (the demo), that file
    counts. A Python prefix holding it (Python in ``/usr``, the project in ``/usr/src/app``)
    does not exclude it; the standard library and site-packages still do.
    """
    if not file.endswith(".py") or file.startswith("<"):
        return False
    always, prefixes = _installed_folders()
    forms = {os.path.abspath(file), os.path.realpath(file)}
    for form in forms:
        if {"site-packages", "dist-packages"} & set(form.split(os.sep)):
            return False
        if any(form.startswith(folder) for folder in always):
            return False
        if form.startswith(_DAGWELL_FOLDER):
            return file == anchor
        for prefix in prefixes:
            if form.startswith(prefix) and not (anchor or "").startswith(prefix):
                return False
    return True
