"""JSON columns' text: what the metadata engine writes for a JSON value and reads back.

Python's ``json`` writes NaN and the infinities as the bare words ``NaN``, ``Infinity`` and
``-Infinity``, which are not JSON: SQLite stores them, PostgreSQL's ``json`` type refuses
the whole value. So every JSON column (run params, logged params, outputs' inline values,
model metadata...) stores such a float as the one-key object ``{"__dagwell_float__": "nan"}``
(or ``"inf"``, ``"-inf"``) on both backends, and reading turns it back into the float: a
param logged as NaN reads back as NaN. Older SQLite rows holding the bare words still read.
A user value that is exactly such an object reads back as the float, too.
"""

from __future__ import annotations

import json
import math
from typing import Any

FLOAT_KEY = "__dagwell_float__"
"""The one key of an object standing for a float that JSON cannot hold."""

_NAMES = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_MARK_TEXT = f'"{FLOAT_KEY}"'
_MARK_BYTES = _MARK_TEXT.encode()


def dumps(value: Any) -> str:
    """The JSON text of ``value``, with non-finite floats written as marked objects.

    >>> dumps({"C": float("inf")})
    '{"C": {"__dagwell_float__": "inf"}}'
    """
    try:
        return json.dumps(value, allow_nan=False)
    except ValueError as exc:
        if "Out of range float" not in str(exc):
            raise
    return json.dumps(_encode(value), allow_nan=False)


def loads(text: str | bytes) -> Any:
    """The value of JSON ``text``, marked objects turned back into floats.

    >>> loads('{"C": {"__dagwell_float__": "inf"}}')
    {'C': inf}
    """
    value = json.loads(text)
    # A cheap test first: almost no stored value holds a marked float.
    marked = _MARK_BYTES in text if isinstance(text, bytes) else _MARK_TEXT in text
    return _decode(value) if marked else value


def _encode(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return {FLOAT_KEY: "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    if isinstance(value, dict):
        return {key: _encode(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(item) for item in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        name = value.get(FLOAT_KEY)
        if len(value) == 1 and isinstance(name, str) and name in _NAMES:
            return _NAMES[name]
        return {key: _decode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode(item) for item in value]
    return value
