"""Environment capture: the Python, platform and installed packages a run started with.

Packages are read from the names of the ``*.dist-info`` folders on ``sys.path``, which the
wheel format spells ``{name}-{version}.dist-info``. That is what
``importlib.metadata.distributions()`` finds too, but without importing it and parsing every
``METADATA`` file: about 0.6 ms for 40 packages against 45-70 ms (import included), which
would otherwise be most of the start-up of a small run. Only a folder whose name leaves the
version out (the ``.egg-info`` of some editable installs) has its metadata file read.
"""

from __future__ import annotations

import os
import platform
import re
import sys
from collections.abc import Iterable
from typing import Any

_SEPARATORS = re.compile(r"[-_.]+")


def capture_environment() -> dict[str, Any]:
    """The running interpreter's version, implementation, platform and packages.

    Package names are normalized as pip compares them (``SQLAlchemy`` -> ``sqlalchemy``,
    ``typing_extensions`` -> ``typing-extensions``), and sorted.

    >>> env = capture_environment()
    >>> env["python"], env["packages"]["sqlalchemy"]
    ('3.11.7', '2.0.25')
    """
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": _platform(),
        "packages": installed_packages(),
    }


def installed_packages(path: Iterable[str] | None = None) -> dict[str, str]:
    """``{normalized name: version}`` of the distributions installed on ``path``.

    ``path`` defaults to ``sys.path``. When a name is installed twice, the first on the
    path wins: it is the one ``import`` finds.

    >>> installed_packages()["click"]
    '8.1.7'
    """
    found: dict[str, str] = {}
    for entry in sys.path if path is None else path:
        try:
            listing = os.scandir(entry or ".")
        except OSError:  # a missing folder or a zip file on sys.path
            continue
        with listing:
            for item in listing:
                name, version = _distribution(item.name)
                if not name or name in found:
                    continue
                version = version or _metadata_version(item)
                if version:
                    found[name] = version
    return dict(sorted(found.items()))


def normalize_name(name: str) -> str:
    """A package name as pip compares it (PEP 503): lower case, runs of ``-_.`` as ``-``."""
    return _SEPARATORS.sub("-", name).lower()


def _distribution(filename: str) -> tuple[str, str]:
    """``("sqlalchemy", "2.0.25")`` from ``SQLAlchemy-2.0.25.dist-info``; ``""`` if unknown.

    An ``.egg-info`` may leave its version out (``pkg.egg-info`` of an editable install) or
    follow it with more (``pkg-1.0-py3.11.egg-info``).
    """
    for suffix in (".dist-info", ".egg-info"):
        if filename.endswith(suffix):
            project, _, rest = filename[: -len(suffix)].partition("-")
            return normalize_name(project), rest.split("-", 1)[0]
    return "", ""


def _metadata_version(item: os.DirEntry[str]) -> str:
    """The ``Version:`` header of a distribution's metadata file, or ``""``."""
    try:
        if item.is_dir():
            names = ("METADATA", "PKG-INFO")
            paths = [os.path.join(item.path, name) for name in names]
        else:  # a single-file egg-info is the metadata itself
            paths = [item.path]
        for path in paths:
            if os.path.isfile(path):
                with open(path, encoding="utf-8", errors="replace") as metadata:
                    for line in metadata:
                        if not line.strip():
                            break  # the headers end at the first blank line
                        if line.startswith("Version:"):
                            return line.partition(":")[2].strip()
    except OSError:  # a broken install must not stop a run from starting
        return ""
    return ""


def _platform() -> str:
    # platform.platform() finds the C library by reading the interpreter's binary, a few
    # milliseconds; the C library names its own version for free.
    uname = platform.uname()
    text = f"{uname.system}-{uname.release}-{uname.machine}"
    try:
        libc = os.confstr("CS_GNU_LIBC_VERSION")
    except (AttributeError, ValueError, OSError):
        libc = None
    if libc:
        text += "-with-" + libc.replace(" ", "")
    return text
