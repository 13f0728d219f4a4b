"""Moments in and out of text: the ones people type to filter by time (a date, a date and
time, or a span back from now), the ISO text records are written with, and the seconds
between two recorded moments.

``dagwell runs --since``, ``dagwell audit --since`` and the web UI's audit page read the
same forms. Nothing here reads the clock: the caller passes ``now`` in.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from dagwell.errors import DefinitionError

_SPAN_UNITS = {"m": 60, "h": 3600, "d": 86400}


def parse_moment(text: str, *, now: datetime) -> datetime:
    """The moment ``text`` names, timezone-aware.

    ``text`` is an ISO date (``2026-01-31``) or date and time (``2026-01-31T03:00``; this
    machine's local time when it names no zone), or a span back from ``now``: ``30m``,
    ``12h``, ``7d``. Raises :class:`DefinitionError` for anything else.

    >>> parse_moment("7d", now=datetime(2026, 2, 8, tzinfo=timezone.utc))
    datetime.datetime(2026, 2, 1, 0, 0, tzinfo=datetime.timezone.utc)
    """
    text = text.strip()
    if text[-1:] in _SPAN_UNITS and text[:-1].isdigit():
        try:
            return now - timedelta(seconds=int(text[:-1]) * _SPAN_UNITS[text[-1]])
        except OverflowError:
            raise DefinitionError(f"{text!r} reaches back further than any date") from None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise DefinitionError(
            f"expected a date (2026-01-31), a date and time (2026-01-31T03:00) or a span "
            f"back from now (30m, 12h, 7d), got {text!r}"
        ) from None
    return moment if moment.tzinfo is not None else moment.astimezone()


def iso(moment: datetime | None) -> str | None:
    """``moment`` as ISO 8601 text for a record's JSON, or None when it is unknown.

    >>> iso(datetime(2026, 2, 1, tzinfo=timezone.utc)), iso(None)
    ('2026-02-01T00:00:00+00:00', None)
    """
    return moment.isoformat() if moment is not None else None


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    """Seconds from ``start`` to ``end``, or None while either is unknown (a duration).

    >>> seconds_between(started_at, ended_at)
    12.5
    """
    if start is None or end is None:
        return None
    return (end - start).total_seconds()
