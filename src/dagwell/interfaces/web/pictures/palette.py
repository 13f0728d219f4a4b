"""The UI's colours in one place: one swatch per run, task and attempt state, the series
colours of charts, and the same swatches written out as CSS classes.

The pictures put these colours inline (so an SVG looks right on its own, saved or opened in a
new tab) and also tag each shape with a ``state-<name>`` class; ``static/dagwell.css`` holds
:func:`css` between its ``BEGIN state palette`` and ``END state palette`` comments, so badges
in tables match the boxes in the DAG.
"""

from __future__ import annotations

from dataclasses import dataclass

from dagwell.core.states import AttemptState, RunState, TaskState


@dataclass(frozen=True)
class Swatch:
    """How one state looks: a light ``fill``, a darker ``stroke`` and a ``text`` colour that
    reads on the fill; ``dashed`` outlines mark states where nothing ran.

    >>> state_swatch("failed").fill
    '#fecaca'
    """

    label: str
    fill: str
    stroke: str
    text: str
    dashed: bool = False


# Light fills with dark text of the same hue: readable, printable, and the outline (stroke)
# carries the hue when the fill is small (a thin gantt bar, a badge).
STATES: dict[str, Swatch] = {
    "pending": Swatch("pending", "#e5e7eb", "#6b7280", "#1f2937"),
    "queued": Swatch("queued", "#e0e7ff", "#6366f1", "#312e81"),
    "running": Swatch("running", "#bfdbfe", "#2563eb", "#1e3a8a"),
    "retrying": Swatch("retrying", "#fde68a", "#d97706", "#78350f"),
    "succeeded": Swatch("succeeded", "#bbf7d0", "#16a34a", "#14532d"),
    "cached": Swatch("cached", "#99f6e4", "#0d9488", "#134e4a"),
    "reused": Swatch("reused", "#cffafe", "#0891b2", "#164e63"),
    "skipped": Swatch("skipped", "#f3f4f6", "#9ca3af", "#4b5563", dashed=True),
    "failed": Swatch("failed", "#fecaca", "#dc2626", "#7f1d1d"),
    "upstream_failed": Swatch("upstream failed", "#fed7aa", "#ea580c", "#7c2d12", dashed=True),
    "cancelled": Swatch("cancelled", "#f5d0fe", "#a21caf", "#701a75"),
    # Not a state: a lineage box that is a record (a dataset, an artifact, a model).
    "record": Swatch("dataset, artifact or model", "#e2e8f0", "#475569", "#1e293b"),
}
"""Every state the UI draws, by its value, in the order legends list them."""

UNKNOWN = Swatch("unknown", "#ffffff", "#6b7280", "#1f2937", dashed=True)
"""The swatch of a state this module does not know (a newer server, a typo)."""

SERIES = (
    "#2563eb",  # blue
    "#dc2626",  # red
    "#16a34a",  # green
    "#9333ea",  # purple
    "#ea580c",  # orange
    "#0891b2",  # cyan
    "#db2777",  # pink
    "#65a30d",  # lime
    "#854d0e",  # brown
    "#475569",  # slate
)
"""Line colours of charts, used in order; a chart with more series cycles and dashes them."""

INK = "#1f2937"
"""Text and axes."""
MUTED = "#6b7280"
"""Secondary text: tick labels, notes."""
GRID = "#e5e7eb"
"""Grid lines and row stripes."""
EDGE = "#94a3b8"
"""DAG edges and their arrowheads."""
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
"""Font of labels and legends."""
MONO = "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace"
"""Font of node names, so that their width can be known without measuring text."""


def state_key(state: str | TaskState | RunState | AttemptState) -> str:
    """The palette key of ``state``: its value, lowercase (``TaskState.FAILED`` -> ``failed``).

    >>> state_key(TaskState.UPSTREAM_FAILED)
    'upstream_failed'
    """
    value = state.value if isinstance(state, (TaskState, RunState, AttemptState)) else state
    return str(value).strip().lower()


def state_swatch(state: str | TaskState | RunState | AttemptState) -> Swatch:
    """The swatch of a run, task or attempt state, or :data:`UNKNOWN` for any other string.

    >>> state_swatch(TaskState.RUNNING).stroke
    '#2563eb'
    """
    return STATES.get(state_key(state), UNKNOWN)


def state_class(state: str | TaskState | RunState | AttemptState) -> str:
    """The CSS class of a state: ``state-<value>``, or ``state-unknown`` for any other string.

    >>> state_class("upstream_failed")
    'state-upstream_failed'
    """
    key = state_key(state)
    return f"state-{key if key in STATES else 'unknown'}"


def series_colour(index: int) -> str:
    """The line colour of the ``index``-th series of a chart (cycling past the last).

    >>> series_colour(0)
    '#2563eb'
    """
    return SERIES[index % len(SERIES)]


def css() -> str:
    """The state palette as CSS: ``--state-fill``/``--state-stroke``/``--state-text`` per
    ``.state-<value>`` class, and the badge rules that read them.

    >>> ".state-failed" in css()
    True
    """
    lines = [
        "/* Each state class sets three variables, which badges read. */",
    ]
    for key, swatch in [*STATES.items(), ("unknown", UNKNOWN)]:
        lines.append(
            f".state-{key} {{ --state-fill: {swatch.fill}; --state-stroke: {swatch.stroke};"
            f" --state-text: {swatch.text}; }}"
        )
    lines += [
        ".badge[class*='state-'] {",
        "  background: var(--state-fill); color: var(--state-text);",
        "  border: 1px solid var(--state-stroke);",
        "}",
    ]
    dashed = ", ".join(
        f".badge.state-{key}"
        for key, swatch in [*STATES.items(), ("unknown", UNKNOWN)]
        if swatch.dashed
    )
    lines.append(f"{dashed} {{ border-style: dashed; }}")
    return "\n".join(lines) + "\n"
