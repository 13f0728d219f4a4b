"""Loading pipelines from Python files: ``path/to/file.py`` or ``path/to/file.py:NAME``.

The file's folder goes first on ``sys.path``, as with ``python FILE``, so the file can import
its neighbours and worker processes (which get the caller's ``sys.path``) can import it.
"""

from __future__ import annotations

import importlib.util
import sys
import traceback
from pathlib import Path
from types import ModuleType

from dagwell.core.pipeline import Pipeline
from dagwell.errors import PipelineLoadError


def split_spec(spec: str) -> tuple[Path, str | None]:
    """``"a/b.py:churn"`` -> ``(Path("a/b.py"), "churn")``; the name part is optional."""
    path, sep, name = spec.rpartition(":")
    if sep and path.endswith(".py") and name.isidentifier():
        return Path(path), name
    return Path(spec), None


def load_module(path: Path) -> ModuleType:
    """Import the Python file at ``path`` as a module named after the file."""
    if not path.is_file():
        raise PipelineLoadError(f"pipeline file {str(path)!r} does not exist")
    path = path.resolve()
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = path.stem
    existing = sys.modules.get(name)
    if existing is not None and getattr(existing, "__file__", None) == str(path):
        return existing
    if existing is not None or not name.isidentifier():
        name = f"dagwell_pipeline_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise PipelineLoadError(f"{str(path)!r} is not a Python file dagwell can import")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:  # a broken user file must not take the caller down
        del sys.modules[name]
        raise PipelineLoadError(_describe(path, exc)) from exc
    if name != path.stem:
        import cloudpickle

        cloudpickle.register_pickle_by_value(module)
    return module


def _describe(path: Path, exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return f"{path}: syntax error on line {exc.lineno}: {exc.msg}"
    if isinstance(exc, SystemExit):
        return f"{path}: the file called sys.exit({exc.code}) while being imported"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)]
    where = f" (line {frames[-1].lineno})" if frames else ""
    return f"{path}{where}: importing the file raised {type(exc).__name__}: {exc}"


def pipelines_in(module: ModuleType) -> dict[str, Pipeline]:
    """The pipelines a module defines, by pipeline name."""
    found: dict[str, Pipeline] = {}
    for value in vars(module).values():
        if isinstance(value, Pipeline):
            found.setdefault(value.name, value)
    return found


def load_pipeline(spec: str) -> Pipeline:
    """The pipeline named by ``spec`` (``FILE`` or ``FILE:NAME``).

    Without a name the file must hold exactly one pipeline.

    >>> churn = load_pipeline("examples/churn.py:churn")
    """
    path, name = split_spec(spec)
    module = load_module(path)
    found = pipelines_in(module)
    if name is not None:
        by_attr = getattr(module, name, None)
        if isinstance(by_attr, Pipeline):
            return by_attr
        if name in found:
            return found[name]
        listed = ", ".join(found) or "none"
        raise PipelineLoadError(f"{path} has no pipeline named {name!r}; it has: {listed}")
    if not found:
        raise PipelineLoadError(
            f"{path} defines no pipeline; decorate a function with @dw.pipeline"
        )
    if len(found) > 1:
        names = ", ".join(found)
        first = next(iter(found))
        raise PipelineLoadError(
            f"{path} defines several pipelines ({names}); choose one as {path}:{first}"
        )
    return next(iter(found.values()))
