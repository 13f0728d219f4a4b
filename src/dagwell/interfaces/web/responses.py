"""JSON that never fails on NaN: metric values and params may be NaN or infinite, which
strict JSON cannot hold, so they are sent as ``null``."""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi.responses import JSONResponse


class JsonResponse(JSONResponse):
    """A JSON response where non-finite floats become ``null`` (the app's default class)."""

    def render(self, content: Any) -> bytes:
        try:
            text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        except ValueError:  # NaN or infinity somewhere: walk the value once, only then
            text = json.dumps(finite(content), ensure_ascii=False, separators=(",", ":"))
        return text.encode("utf-8")


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float inside it replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value
