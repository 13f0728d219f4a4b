"""The state palette: one swatch per state, and the same colours in dagwell.css."""

from __future__ import annotations

import re
from importlib.resources import files

import pytest

from dagwell.core.states import AttemptState, RunState, TaskState
from dagwell.interfaces.web.pictures import palette

CSS = files("dagwell.interfaces.web") / "static" / "dagwell.css"


@pytest.mark.parametrize("state", [*TaskState, *RunState, *AttemptState])
def test_every_state_dagwell_has_its_own_swatch(state: TaskState | RunState | AttemptState) -> None:
    assert palette.state_key(state) == state.value
    assert palette.state_swatch(state) is palette.STATES[state.value]
    assert palette.state_class(state) == f"state-{state.value}"


def test_states_tell_apart_at_a_glance() -> None:
    fills = [swatch.fill for swatch in palette.STATES.values()]
    assert len(set(fills)) == len(fills)


def test_an_unknown_state_gets_the_unknown_swatch() -> None:
    assert palette.state_swatch("exploded") is palette.UNKNOWN
    assert palette.state_class("exploded") == "state-unknown"
    assert palette.state_swatch(" Failed ") is palette.STATES["failed"]


def test_dagwell_css_holds_the_palette_as_generated() -> None:
    """If this fails, put the output of ``.venv/bin/python -c "from
    dagwell.interfaces.web.pictures.palette import css; print(css(), end='')"`` between the
    palette markers in static/dagwell.css."""
    found = re.search(
        r"/\* BEGIN state palette \*/\n(.*)/\* END state palette \*/", CSS.read_text(), re.S
    )
    assert found is not None, "dagwell.css lost its palette markers"
    assert found.group(1) == palette.css()


def test_every_state_has_a_badge_class() -> None:
    css = palette.css()
    for key in [*palette.STATES, "unknown"]:
        assert f".state-{key} {{" in css
