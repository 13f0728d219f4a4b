"""Task specs and the ``@task`` decorator; ``shell`` builds a task that runs a Bash command.

A :class:`Task` is a frozen value: a function plus its options. Called inside a pipeline it
records a node; called anywhere else it is the plain function call, so tasks stay testable.
"""

from __future__ import annotations

import functools
import inspect
import keyword
import math
import re
import shlex
import string
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar, overload

from dagwell.core.alerts import HOOK_OPTIONS, AlertHook, alert_hooks, sla_seconds
from dagwell.core.refs import find_refs
from dagwell.core.tracing import active_trace
from dagwell.errors import DefinitionError, TaskError

F = TypeVar("F", bound=Callable[..., Any])
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


@dataclass(frozen=True)
class Task:
    """A Python function with its run options.

    >>> @dw.task(retries=2, timeout=60)
    ... def fit(train, C: float = 1.0): ...
    >>> fit.name, fit.retries
    ('fit', 2)

    ``resources`` (``{"GPU": 1, "memory_gb": 8}``) are what one call needs of the worker
    that runs it: the Dask executor only sends it to workers that declare as much (Dask
    worker resources); the inline and process executors ignore them.
    """

    fn: Callable[..., Any]
    name: str
    retries: int = 0
    retry_delay: float = 0.0
    retry_backoff: float = 2.0
    timeout: float | None = None
    cache: bool = False
    version: str | None = None
    outputs: tuple[str, ...] | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    command: str | None = None
    pool: str | None = None
    resources: Mapping[str, float] = field(default_factory=dict)
    sla: float | None = None
    on_failure: tuple[AlertHook, ...] = ()
    on_retry: tuple[AlertHook, ...] = ()
    on_success: tuple[AlertHook, ...] = ()
    on_sla_miss: tuple[AlertHook, ...] = ()
    signature: inspect.Signature = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        where = f"task {self.name!r}"
        object.__setattr__(self, "sla", sla_seconds(self.sla, where))
        for option in HOOK_OPTIONS:
            object.__setattr__(self, option, alert_hooks(getattr(self, option), where, option))
        _check_options(self)
        if self.command is not None:
            sig = _shell_signature(self.command)
        else:
            sig = inspect.signature(self.fn)
        object.__setattr__(self, "signature", sig)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        trace = active_trace()
        if trace is None:
            if find_refs((args, kwargs)):
                raise DefinitionError(
                    f"task {self.name!r} was called outside a pipeline with a task output "
                    "as argument; task outputs only exist while their pipeline is traced"
                )
            if self.command is not None:
                self._check_call(args, kwargs)
            return self.fn(*args, **kwargs)
        self._check_call(args, kwargs)
        return trace.add_call(self, args, kwargs)

    def map(self, items: Any, **common: Any) -> Any:
        """Call the task once per item, the item as first argument, ``common`` as keywords.

        ``items`` is a list (expanded now into nodes ``name[0]``, ``name[1]``…) or a task
        output holding a list (expanded at run time). Either way, the result passed on to
        the next task is the list of the calls' outputs.

        >>> scores = score.map(models, test=test)
        >>> best = pick(scores)
        """
        trace = active_trace()
        if trace is None:
            return [self.fn(item, **common) for item in items]
        self._check_call((None,), common)
        return trace.add_map(self, items, common)

    def retry_delay_for(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt + 1``, after ``attempt`` failed."""
        return float(self.retry_delay * self.retry_backoff ** max(attempt - 1, 0))

    def same_definition(self, other: Task) -> bool:
        """True when ``other`` wraps the same function or command (for name clashes)."""
        return self.fn is other.fn and self.command == other.command

    def _check_call(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        try:
            self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise DefinitionError(
                f"task {self.name!r} called with arguments that do not fit its signature "
                f"{self.name}{self.signature}: {exc}"
            ) from None

    def __reduce__(self) -> Any:
        # Send a task to worker processes by reference to its module attribute when we
        # can; cloudpickle would otherwise ship the function by value every time.
        module = sys.modules.get(getattr(self.fn, "__module__", "") or "")
        qualname = getattr(self.fn, "__qualname__", "")
        if (
            module is not None
            and module.__name__ != "__main__"
            and "<locals>" not in qualname
            and _lookup(module.__name__, qualname) is self
        ):
            return (_lookup, (module.__name__, qualname))
        state = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "signature"}
        return (_rebuild, (state,))


def _lookup(module_name: str, qualname: str) -> Any:
    import importlib

    obj: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    return obj


def _rebuild(state: dict[str, Any]) -> Task:
    return Task(**state)


def _check_options(task: Task) -> None:
    where = f"task {task.name!r}"
    if not _NAME.match(task.name):
        raise DefinitionError(
            f"{where}: a task name may use letters, digits, '_' and '.', got {task.name!r}"
        )
    if not isinstance(task.retries, int) or task.retries < 0:
        raise DefinitionError(f"{where}: retries must be an int >= 0, got {task.retries!r}")
    if task.retry_delay < 0 or task.retry_backoff < 1:
        raise DefinitionError(f"{where}: retry_delay must be >= 0 and retry_backoff >= 1")
    if task.timeout is not None and not task.timeout > 0:
        raise DefinitionError(f"{where}: timeout must be a positive number of seconds")
    if task.pool is not None and (not isinstance(task.pool, str) or not _NAME.match(task.pool)):
        raise DefinitionError(
            f"{where}: pool must be a pool name (letters, digits, '_' and '.'), got {task.pool!r}"
        )
    _check_resources(task.resources, where)
    if task.outputs is not None:
        if isinstance(task.outputs, str) or not task.outputs:
            raise DefinitionError(f"{where}: outputs must be a tuple of names, e.g. ('a', 'b')")
        bad = [
            o
            for o in task.outputs
            if not isinstance(o, str) or not o.isidentifier() or keyword.iskeyword(o)
        ]
        if bad or len(set(task.outputs)) != len(task.outputs):
            raise DefinitionError(
                f"{where}: outputs must be distinct Python identifiers, got {task.outputs!r}"
            )


def _check_resources(resources: object, where: str) -> None:
    example = "e.g. {'GPU': 1, 'memory_gb': 8}"
    if not isinstance(resources, Mapping):
        raise DefinitionError(
            f"{where}: resources must map resource names to amounts, {example}; got {resources!r}"
        )
    for name, amount in resources.items():
        if not isinstance(name, str) or not name.strip():
            raise DefinitionError(f"{where}: a resource name must be a non-empty string, {example}")
        if (
            isinstance(amount, bool)
            or not isinstance(amount, (int, float))
            or not 0 < amount < math.inf
        ):
            raise DefinitionError(
                f"{where}: resource {name!r} needs a positive amount, {example}; got {amount!r}"
            )


@overload
def task(fn: F, /) -> Task: ...
@overload
def task(
    *,
    name: str | None = None,
    retries: int = 0,
    retry_delay: float = 0.0,
    retry_backoff: float = 2.0,
    timeout: float | None = None,
    cache: bool = False,
    version: str | None = None,
    outputs: tuple[str, ...] | None = None,
    tags: Mapping[str, str] | None = None,
    pool: str | None = None,
    resources: Mapping[str, float] | None = None,
    sla: float | timedelta | None = None,
    on_failure: AlertHook | Sequence[AlertHook] | None = None,
    on_retry: AlertHook | Sequence[AlertHook] | None = None,
    on_success: AlertHook | Sequence[AlertHook] | None = None,
    on_sla_miss: AlertHook | Sequence[AlertHook] | None = None,
) -> Callable[[F], Task]: ...
def task(fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Turn a function into a :class:`Task`; use bare or with options.

    >>> @dw.task(retries=3, retry_delay=1.0, outputs=("train", "test"))
    ... def split(df, test_size: float = 0.2): ...
    """

    def build(function: Callable[..., Any]) -> Task:
        if not callable(function):
            raise DefinitionError(f"@dw.task needs a function, got {type(function).__name__}")
        opts = dict(options)
        name = opts.pop("name", None) or function.__name__
        outputs = opts.get("outputs")
        if isinstance(outputs, str):
            raise DefinitionError(
                f"task {name!r}: outputs must be a tuple of names, e.g. ({outputs!r},)"
            )
        if outputs is not None:
            opts["outputs"] = tuple(outputs)
        opts["tags"] = dict(opts.get("tags") or {})
        _copy_resources(opts)
        try:
            return Task(fn=function, name=name, **opts)
        except TypeError as exc:
            raise DefinitionError(f"@dw.task on {function.__name__!r}: {exc}") from None

    if fn is not None:
        return build(fn)
    return build


def shell(name: str, command: str, **options: Any) -> Task:
    """A task that runs ``command`` with Bash; its value is the command's stdout.

    ``{placeholders}`` in the command are filled from keyword arguments, shell-quoted.
    A non-zero exit status fails the attempt.

    >>> count = dw.shell("count_lines", "wc -l < {path}")
    >>> n = count(path=raw_path)
    """
    fn = functools.partial(run_shell, command)
    opts = dict(options)
    opts["tags"] = dict(opts.get("tags") or {})
    _copy_resources(opts)
    if opts.get("outputs") is not None:
        raise DefinitionError(f"shell task {name!r}: a shell task has one output, its stdout")
    try:
        return Task(fn=fn, name=name, command=command, **opts)
    except TypeError as exc:
        raise DefinitionError(f"dw.shell({name!r}, ...): {exc}") from None


def _copy_resources(opts: dict[str, Any]) -> None:
    """``resources=None`` means none; a mapping is copied, so later changes don't leak in."""
    resources = opts.get("resources")
    if resources is None:
        opts.pop("resources", None)
    elif isinstance(resources, Mapping):
        opts["resources"] = dict(resources)


def _placeholders(command: str) -> list[str]:
    names = []
    try:
        parsed = list(string.Formatter().parse(command))
    except ValueError as exc:
        raise DefinitionError(f"shell command {command!r} is not a valid template: {exc}") from None
    for _, field_name, format_spec, conversion in parsed:
        if field_name is None:
            continue
        if conversion or format_spec:
            raise DefinitionError(
                f"shell command {command!r}: placeholder {{{field_name}}} may not carry a "
                "conversion or format spec (they would bypass shell quoting); format the "
                "value in Python before passing it"
            )
        if not field_name.isidentifier():
            raise DefinitionError(
                f"shell command {command!r}: placeholder {{{field_name}}} must be a plain "
                "name such as {path}; write literal braces as {{ and }}"
            )
        names.append(field_name)
    return list(dict.fromkeys(names))


def _shell_signature(command: str) -> inspect.Signature:
    return inspect.Signature(
        [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY) for n in _placeholders(command)]
    )


def _quote(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return " ".join(shlex.quote(str(v)) for v in value)
    return shlex.quote(str(value))


class ShellCommandError(TaskError):
    """A shell task's command exited with a non-zero status."""


def run_shell(command: str, **values: Any) -> str:
    """Run ``command`` in Bash with quoted ``values``; return stdout without its last newline."""
    script = command.format(**{k: _quote(v) for k, v in values.items()})
    sys.stdout.flush()
    sys.stderr.flush()
    done = subprocess.run(
        ["bash", "-c", script], stdout=subprocess.PIPE, stderr=None, text=True, check=False
    )
    sys.stdout.write(done.stdout)
    sys.stdout.flush()
    if done.returncode != 0:
        raise ShellCommandError(f"command exited with status {done.returncode}: {script}")
    return done.stdout[:-1] if done.stdout.endswith("\n") else done.stdout
