"""Shared type aliases and small protocols. Imports nothing from dagwell."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

JSONValue: TypeAlias = Any
"""A value that round-trips through JSON (None, bool, int, float, str, lists, str-keyed dicts).

Spelled ``Any`` because a recursive alias buys little here and costs casts everywhere."""

Params = Mapping[str, Any]
"""Concrete pipeline params, by name."""

NodeId = str
"""The unique id of one task call in a graph: ``train``, ``train-1``, ``score[3]``."""

RunId = str
"""The id of one run."""
