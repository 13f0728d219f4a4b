"""Shared type aliases and small protocols. Imports nothing from dagwell."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Union

JSONValue = Union[None, bool, int, float, str, list["JSONValue"], Mapping[str, "JSONValue"]]
"""A value that round-trips through JSON."""

Params = Mapping[str, Any]
"""Concrete pipeline params, by name."""

NodeId = str
"""The unique id of one task call in a graph: ``train``, ``train-1``, ``score[3]``."""

RunId = str
"""The id of one run."""
