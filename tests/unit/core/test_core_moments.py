"""Moments typed to filter by time (dates, dates and times, spans back from now), written as
ISO text, and the seconds between two."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from dagwell.core.moments import iso, parse_moment, seconds_between
from dagwell.errors import DefinitionError

NOW = datetime(2026, 2, 8, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("text", "back"),
    [("30m", timedelta(minutes=30)), ("12h", timedelta(hours=12)), ("7d", timedelta(days=7))],
)
def test_a_span_counts_back_from_now(text: str, back: timedelta) -> None:
    assert parse_moment(text, now=NOW) == NOW - back


def test_a_date_without_a_zone_is_local_time() -> None:
    moment = parse_moment("2026-01-31", now=NOW)
    assert moment == datetime(2026, 1, 31).astimezone()
    assert moment.tzinfo is not None


def test_a_zone_given_is_kept() -> None:
    moment = parse_moment("2026-01-31T03:00+01:00", now=NOW)
    assert moment == datetime(2026, 1, 31, 2, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("text", ["", "yesterday", "7w", "d", "-3d", "2026-13-01"])
def test_anything_else_is_a_definition_error_naming_the_forms(text: str) -> None:
    with pytest.raises(DefinitionError, match=r"a span back from now \(30m, 12h, 7d\)"):
        parse_moment(text, now=NOW)


def test_a_moment_is_written_as_iso_text_and_an_unknown_one_as_none() -> None:
    assert iso(NOW) == "2026-02-08T12:00:00+00:00"
    assert iso(None) is None


def test_seconds_between_two_moments_and_none_while_either_is_unknown() -> None:
    assert seconds_between(NOW, NOW + timedelta(seconds=12.5)) == 12.5
    assert seconds_between(None, NOW) is None
    assert seconds_between(NOW, None) is None


def test_a_span_further_back_than_any_date_is_a_definition_error() -> None:
    with pytest.raises(DefinitionError, match="further than any date"):
        parse_moment("9999999999d", now=NOW)
