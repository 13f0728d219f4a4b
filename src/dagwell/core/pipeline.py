"""Pipelines and the ``@pipeline`` decorator: a function whose body wires tasks together.

A :class:`Pipeline` knows its params (from the function signature) and builds a validated
:class:`~dagwell.core.graph.Graph` by tracing its body with concrete param values.
"""

from __future__ import annotations

import datetime
import difflib
import enum
import inspect
import json
import traceback
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, overload

from dagwell.core.alerts import HOOK_OPTIONS, AlertHook, alert_hooks, sla_seconds
from dagwell.core.graph import Graph
from dagwell.core.schedules import Every, Schedule
from dagwell.core.tracing import active_trace, tracing
from dagwell.errors import DagwellError, DefinitionError, ParamError

_REQUIRED = inspect.Parameter.empty
_TRUE = {"1", "true", "yes", "on", "y"}
_FALSE = {"0", "false", "no", "off", "n"}


@dataclass(frozen=True)
class Param:
    """One pipeline param: its name, annotated type (or None) and default."""

    name: str
    annotation: Any = None
    default: Any = _REQUIRED

    @property
    def required(self) -> bool:
        """True when the param has no default."""
        return self.default is _REQUIRED

    @property
    def kind(self) -> Any:
        """The type values are checked against: the annotation, else the default's type."""
        if self.annotation is not None:
            return self.annotation
        if self.default is not _REQUIRED and self.default is not None:
            return type(self.default)
        return None


@dataclass(frozen=True)
class Pipeline:
    """A pipeline: its body function, name, params and options.

    >>> @dw.pipeline(name="churn")
    ... def churn(C: float = 1.0):
    ...     fit(load(), C=C)
    >>> churn.build({"C": 0.5}).order()
    ['load', 'fit']
    """

    fn: Callable[..., Any]
    name: str
    params: tuple[Param, ...]
    schedule: Schedule | None = None
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    max_active_runs: int = 16
    sla: float | None = None
    on_failure: tuple[AlertHook, ...] = ()
    on_retry: tuple[AlertHook, ...] = ()
    on_success: tuple[AlertHook, ...] = ()
    on_sla_miss: tuple[AlertHook, ...] = ()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if active_trace() is not None:
            raise DefinitionError(
                f"pipeline {self.name!r} was called inside another pipeline; call its "
                "tasks directly, or run it on its own with dw.run()"
            )
        raise DefinitionError(
            f"pipeline {self.name!r} is not called directly; run it with "
            f"dw.run({self.fn.__name__}, params={{...}}) or `dagwell run FILE`"
        )

    def bind(
        self, given: Mapping[str, Any] | None = None, *, from_text: bool = False
    ) -> dict[str, Any]:
        """Check ``given`` against the params and fill in defaults.

        With ``from_text`` (values typed on a command line), strings are converted to the
        annotated type first. Unknown, missing and mistyped params raise :class:`ParamError`.
        """
        return bind_params(self.name, self.params, given, from_text=from_text)

    def build(self, params: Mapping[str, Any] | None = None) -> Graph:
        """Trace the body with bound ``params`` and return the validated graph."""
        bound = self.bind(params)
        with tracing(self.name) as trace:
            try:
                output = self.fn(**bound)
            except DagwellError:
                raise
            except Exception as exc:
                raise DefinitionError(
                    f"pipeline {self.name!r} raised {type(exc).__name__}: {exc} "
                    f"({_where(exc)}) while its body ran to build the graph"
                ) from exc
            return trace.finish(output)


def bind_params(
    pipeline: str,
    params: Sequence[Param],
    given: Mapping[str, Any] | None = None,
    *,
    from_text: bool = False,
) -> dict[str, Any]:
    """Check ``given`` against ``params`` of pipeline ``pipeline`` and fill in defaults:
    what :meth:`Pipeline.bind` does, for params known without the pipeline's code (as a
    scheduler registered them).

    >>> bind_params("churn", [Param("C", float, 1.0)], {"C": "0.5"}, from_text=True)
    {'C': 0.5}
    """
    given = dict(given or {})
    known = {p.name: p for p in params}
    unknown = [name for name in given if name not in known]
    if unknown:
        name = unknown[0]
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        listed = ", ".join(known) or "none"
        raise ParamError(
            f"pipeline {pipeline!r} has no param {name!r}.{hint} Its params are: {listed}"
        )
    bound: dict[str, Any] = {}
    for param in params:
        if param.name in given:
            value = given[param.name]
            if from_text and isinstance(value, str):
                value = _from_text(pipeline, param, value)
            bound[param.name] = _checked(pipeline, param, value)
        elif param.required:
            raise ParamError(
                f"pipeline {pipeline!r} needs a value for param {param.name!r}; "
                f"pass it with -p {param.name}=VALUE or params={{{param.name!r}: ...}}"
            )
        else:
            bound[param.name] = param.default
    return bound


def _where(exc: BaseException) -> str:
    """``file:line`` of the innermost frame of ``exc``'s traceback that is not dagwell's."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/dagwell/" not in f.filename]
    if not frames:
        return "location unknown"
    return f"{frames[-1].filename}:{frames[-1].lineno}"


def _from_text(pipeline: str, param: Param, text: str) -> Any:
    kind = _origin(param.kind)
    if text.strip().lower() in ("none", "null") and _accepts_none(param):
        return None
    try:
        if isinstance(kind, type) and issubclass(kind, enum.Enum):
            return kind[text] if text in kind.__members__ else kind(text)
        if kind is datetime.datetime:
            return datetime.datetime.fromisoformat(text)
        if kind is datetime.date:
            return datetime.date.fromisoformat(text)
        if isinstance(kind, type) and issubclass(kind, PurePath):
            return kind(text)
        if kind is bool:
            lowered = text.strip().lower()
            if lowered in _TRUE:
                return True
            if lowered in _FALSE:
                return False
            raise ValueError("expected true or false")
        if kind is int:
            return int(text)
        if kind is float:
            return float(text)
        if kind in (list, dict, tuple):
            return json.loads(text)
        if kind is str:
            return text
        if kind is None:
            try:
                return json.loads(text)
            except json.JSONDecodeError:
                return text
    except (ValueError, KeyError, json.JSONDecodeError) as exc:
        raise ParamError(
            f"param {param.name!r} of pipeline {pipeline!r} expects {_type_name(param.kind)}, "
            f"got {text!r} ({exc})"
        ) from None
    return text


def _accepts_none(param: Param) -> bool:
    kind = param.kind
    union = typing.get_origin(kind) is typing.Union or type(kind).__name__ == "UnionType"
    return param.default is None or (union and type(None) in typing.get_args(kind))


def to_text(value: Any) -> Any:
    """``value`` in JSON, non-JSON params as text that ``bind(from_text=True)`` reads back."""
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, (datetime.date, PurePath)):
        return str(value) if not isinstance(value, datetime.date) else value.isoformat()
    return repr(value)


def _checked(pipeline: str, param: Param, value: Any) -> Any:
    kind = _origin(param.kind)
    if kind is None or kind is Any or not isinstance(kind, type):
        return value
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is tuple and isinstance(value, list):
        return tuple(value)
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    if value is None and param.default is None:
        return value
    raise ParamError(
        f"param {param.name!r} of pipeline {pipeline!r} expects {_type_name(param.kind)}, "
        f"got {type(value).__name__} {value!r}"
    )


def _origin(kind: Any) -> Any:
    origin = typing.get_origin(kind)
    if origin is typing.Union or type(kind).__name__ == "UnionType":
        members = [a for a in typing.get_args(kind) if a is not type(None)]
        return _origin(members[0]) if len(members) == 1 else None
    return origin or kind


def _type_name(kind: Any) -> str:
    return getattr(kind, "__name__", str(kind))


def _params_of(fn: Callable[..., Any]) -> tuple[Param, ...]:
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # unresolvable annotations: fall back to what the signature holds
        hints = {}
    params = []
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise DefinitionError(
                f"pipeline {fn.__name__!r}: params must be named (no *args or **kwargs), found {p}"
            )
        annotation = hints.get(p.name)
        if annotation is None and p.annotation is not _REQUIRED:
            annotation = p.annotation if not isinstance(p.annotation, str) else None
        params.append(Param(p.name, annotation, p.default))
    return tuple(params)


@overload
def pipeline(fn: Callable[..., Any], /) -> Pipeline: ...
@overload
def pipeline(
    *,
    name: str | None = None,
    schedule: str | Every | None = None,
    timezone: str = "UTC",
    start: datetime.datetime | None = None,
    catchup: bool = False,
    max_active_runs: int = 16,
    params: Mapping[str, Any] | None = None,
    sla: float | datetime.timedelta | None = None,
    on_failure: AlertHook | Sequence[AlertHook] | None = None,
    on_retry: AlertHook | Sequence[AlertHook] | None = None,
    on_success: AlertHook | Sequence[AlertHook] | None = None,
    on_sla_miss: AlertHook | Sequence[AlertHook] | None = None,
    tags: Mapping[str, str] | None = None,
) -> Callable[[Callable[..., Any]], Pipeline]: ...
def pipeline(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    schedule: str | Every | None = None,
    timezone: str = "UTC",
    start: datetime.datetime | None = None,
    catchup: bool = False,
    max_active_runs: int = 16,
    params: Mapping[str, Any] | None = None,
    sla: float | datetime.timedelta | None = None,
    tags: Mapping[str, str] | None = None,
    **hooks: Any,
) -> Any:
    """Turn a function that calls tasks into a :class:`Pipeline`; bare or with options.

    ``schedule`` (cron text, ``@daily`` or ``dw.every(...)``, read in ``timezone``) is what
    ``dagwell scheduler`` starts runs by, from ``start``, with ``params``; ``catchup``
    queues every time missed while it was down. At most ``max_active_runs`` runs the daemon
    starts go on at once (16 by default). ``sla`` (seconds or a timedelta) and the ``on_failure``,
    ``on_retry``, ``on_success`` and ``on_sla_miss`` hooks raise alerts for the whole run.

    >>> @dw.pipeline(name="churn", schedule="0 3 * * *", timezone="Europe/Berlin",
    ...              on_failure=dw.notify.webhook("https://hooks.example.com/T0"))
    ... def churn(C: float = 1.0, folds: int = 3): ...
    """
    unknown = sorted(set(hooks) - set(HOOK_OPTIONS))
    if unknown:
        raise DefinitionError(
            f"@dw.pipeline got an unexpected option {unknown[0]!r}; alert hooks are "
            + ", ".join(HOOK_OPTIONS)
        )

    def build(function: Callable[..., Any]) -> Pipeline:
        pipeline_name = name or function.__name__
        where = f"pipeline {pipeline_name!r}"
        found = Pipeline(
            fn=function,
            name=pipeline_name,
            params=_params_of(function),
            schedule=_schedule(where, schedule, timezone, start, catchup, params),
            description=inspect.getdoc(function) or "",
            tags=dict(tags or {}),
            max_active_runs=_max_active_runs(where, max_active_runs),
            sla=sla_seconds(sla, where),
            **{option: alert_hooks(hooks.get(option), where, option) for option in HOOK_OPTIONS},
        )
        if found.schedule is not None:
            try:
                found.bind(found.schedule.params)
            except ParamError as exc:
                raise ParamError(
                    f"{exc}; a scheduled pipeline takes the values of its runs' params from "
                    "@dw.pipeline(params={...}) or from defaults"
                ) from None
        return found

    if fn is not None:
        return build(fn)
    return build


def _schedule(
    where: str,
    spec: str | Every | None,
    timezone: str,
    start: datetime.datetime | None,
    catchup: bool,
    params: Mapping[str, Any] | None,
) -> Schedule | None:
    if spec is None:
        if start is not None or catchup or params:
            raise DefinitionError(
                f"{where}: start, catchup and params describe scheduled runs; give a "
                "schedule= too (cron text such as '0 3 * * *', or dw.every(hours=1))"
            )
        return None
    try:
        return Schedule(spec, timezone=timezone, start=start, catchup=catchup, params=params or {})
    except DefinitionError as exc:
        raise DefinitionError(f"{where}: {exc}") from None


def _max_active_runs(where: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DefinitionError(f"{where}: max_active_runs must be an int >= 1, got {value!r}")
    return value
