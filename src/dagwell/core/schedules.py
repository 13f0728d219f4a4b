"""Schedules: when a pipeline is due, as pure functions of a moment passed in.

A :class:`Schedule` is cron text (croniter's dialect, ``@daily`` included) or a fixed
interval made with :func:`every`, read in a time zone. Cron times are wall-clock times in
that zone: a daily job runs once when clocks go back (the first of the repeated times) and
is not skipped when they go forward (a time in the gap runs at the first moment after it).
Nothing here reads the clock; the daemon passes ``now`` in, so tests need no waiting.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from dagwell.errors import DefinitionError

UTC = timezone.utc
_TICK = timedelta(microseconds=1)
_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
_EPOCH = datetime(1970, 1, 1)


@dataclass(frozen=True)
class Every:
    """A fixed interval between runs, in seconds of real (UTC) time. Made by :func:`every`."""

    seconds: float

    @property
    def text(self) -> str:
        """``every 30s``, ``every 5m``, ``every 2h`` or ``every 1d``: the largest whole unit."""
        for unit, size in _UNITS:
            if self.seconds >= size and self.seconds % size == 0:
                return f"every {int(self.seconds // size)}{unit}"
        return f"every {self.seconds:g}s"


def every(*, seconds: float = 0, minutes: float = 0, hours: float = 0, days: float = 0) -> Every:
    """A schedule that is due every so often, aligned to ``start`` (else to 1970-01-01).

    >>> @dw.pipeline(schedule=dw.every(minutes=15))
    ... def refresh(): ...
    """
    total = seconds + 60 * minutes + 3600 * hours + 86400 * days
    if not total > 0:
        raise DefinitionError(
            "dw.every() needs a positive interval, e.g. dw.every(seconds=30) or "
            f"dw.every(hours=1); got seconds={seconds}, minutes={minutes}, hours={hours}, "
            f"days={days}"
        )
    return Every(float(total))


def parse_every(text: str) -> Every | None:
    """The :class:`Every` written as ``every 30s`` (as :attr:`Every.text` writes it).

    None for text that is not an interval (cron text); an error for a malformed interval.
    """
    words = text.strip().split()
    if len(words) != 2 or words[0] != "every" or not words[1]:
        return None
    number, unit = words[1][:-1], words[1][-1]
    sizes = dict(_UNITS)
    try:
        value = float(number)
    except ValueError:
        value = math.nan
    if unit not in sizes or not (math.isfinite(value) and value > 0):
        raise DefinitionError(
            f"invalid interval schedule {text!r}: write 'every' and a positive number with "
            "a unit s, m, h or d, such as 'every 30s', or use dw.every(minutes=5)"
        )
    return Every(value * sizes[unit])


@dataclass(frozen=True)
class Schedule:
    """When a pipeline runs by itself, and how the scheduler daemon treats it.

    ``spec`` is cron text or an :class:`Every`; ``start`` (naive means in ``timezone``) is
    the first logical time allowed; ``catchup`` queues every time missed while the daemon
    was down instead of the newest one only; ``params`` are the scheduled runs' params.

    >>> Schedule("0 3 * * *", timezone="Europe/Berlin").next_after(now)
    datetime.datetime(2026, 11, 27, 2, 0, tzinfo=datetime.timezone.utc)
    """

    spec: str | Every
    timezone: str = "UTC"
    start: datetime | None = None
    catchup: bool = False
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        spec = self.spec
        if isinstance(spec, str) and parse_every(spec) is not None:
            object.__setattr__(self, "spec", parse_every(spec))
        elif isinstance(spec, str):
            _check_cron(spec)
        elif not isinstance(spec, Every):
            raise DefinitionError(
                "schedule must be cron text such as '0 3 * * *' or '@daily', or "
                f"dw.every(seconds=30); got {type(spec).__name__} {spec!r}"
            )
        zone = _zone(self.timezone)
        if self.start is not None:
            if not isinstance(self.start, datetime):
                raise DefinitionError(
                    f"start must be a datetime, got {type(self.start).__name__} {self.start!r}"
                )
            if self.start.tzinfo is None:
                object.__setattr__(self, "start", self.start.replace(tzinfo=zone))
        object.__setattr__(self, "params", dict(self.params or {}))

    @property
    def text(self) -> str:
        """The schedule as written: cron text, or ``every 30s``."""
        return self.spec.text if isinstance(self.spec, Every) else self.spec

    def next_after(self, moment: datetime) -> datetime:
        """The first logical time strictly after ``moment`` (and not before ``start``), in UTC."""
        moment = _aware(moment)
        if self.start is not None and moment < self.start:
            moment = self.start - _TICK
        if isinstance(self.spec, Every):
            return self._next_interval(moment, self.spec.seconds)
        return self._next_cron(moment, self.spec)

    def times(self, after: datetime, until: datetime, *, limit: int = 100_000) -> list[datetime]:
        """Every logical time in ``(after, until]``, oldest first; refuses more than ``limit``."""
        found: list[datetime] = []
        moment = self.next_after(after)
        until = _aware(until)
        while moment <= until:
            if len(found) == limit:
                raise DefinitionError(
                    f"schedule {self.text!r} has more than {limit} times between "
                    f"{_aware(after).isoformat()} and {until.isoformat()}; use a shorter range"
                )
            found.append(moment)
            moment = self.next_after(moment)
        return found

    def first_due(self, registered_at: datetime) -> datetime:
        """The first logical time of a schedule the daemon sees for the first time.

        From ``start`` when one is given (the daemon then catches up, or runs the newest
        missed time), else the next time after ``registered_at``.
        """
        if self.start is not None:
            return self.next_after(self.start - _TICK)
        return self.next_after(registered_at)

    def due(
        self, next_due: datetime, now: datetime, *, limit: int = 1000
    ) -> tuple[list[datetime], datetime]:
        """The logical times to queue at ``now``, and the next due time after them.

        Nothing is due before ``next_due``. After downtime every missed time is due with
        ``catchup`` (at most ``limit`` per call; the rest on the next call), else the newest.

        >>> times, next_due = schedule.due(next_due, now)
        """
        now = _aware(now)
        if now < next_due:
            return [], next_due
        if self.catchup:
            times = [next_due]
            while len(times) < limit:
                following = self.next_after(times[-1])
                if following > now:
                    break
                times.append(following)
        else:
            times = [self._newest_at_or_before(next_due, now)]
        return times, self.next_after(times[-1])

    def _newest_at_or_before(self, next_due: datetime, now: datetime) -> datetime:
        if isinstance(self.spec, Every):
            step = self.spec.seconds
            skipped = math.floor((now - next_due).total_seconds() / step)
            return next_due + timedelta(seconds=skipped * step)
        # Back from now, not forward from next_due: after a long downtime of a frequent cron
        # the forward walk would take minutes.
        newest = self._previous_cron(now, self.spec)
        return newest if newest is not None and newest > next_due else next_due

    def _next_interval(self, moment: datetime, step: float) -> datetime:
        # In UTC: adding a timedelta to a zoned datetime adds wall-clock time, and an
        # interval counts real time.
        anchor = (self.start or _EPOCH.replace(tzinfo=_zone(self.timezone))).astimezone(UTC)
        if moment < anchor:
            return anchor.astimezone(UTC)
        count = math.floor((moment - anchor).total_seconds() / step) + 1
        candidate = anchor + timedelta(seconds=count * step)
        if candidate <= moment:  # float rounding on very long spans
            candidate += timedelta(seconds=step)
        return candidate.astimezone(UTC)

    def _previous_cron(self, moment: datetime, text: str) -> datetime | None:
        """The newest cron time at or before ``moment`` that :meth:`next_after` also yields."""
        from croniter import croniter

        zone = _zone(self.timezone)
        wall = moment.astimezone(zone).replace(tzinfo=None) + timedelta(seconds=1)
        times = croniter(text, wall)
        for _ in range(1000):
            candidate = times.get_prev(datetime).replace(tzinfo=zone).astimezone(UTC)
            if self.start is not None and candidate < self.start:
                return None
            if candidate <= moment and self.next_after(candidate - _TICK) == candidate:
                # Wall-clock steps back can skip a time that ran in the first pass of a
                # repeated (fall-back) hour; step forward over any such.
                following = self.next_after(candidate)
                while following <= moment:
                    candidate, following = following, self.next_after(following)
                return candidate
        return None

    def _next_cron(self, moment: datetime, text: str) -> datetime:
        from croniter import croniter

        zone = _zone(self.timezone)
        wall = moment.astimezone(zone).replace(tzinfo=None)
        times = croniter(text, wall)
        # Walk wall-clock times; a time in the repeated hour that lies before ``moment`` in
        # real time (the second pass of a fall-back hour) is stepped over, so it runs once.
        for _ in range(100_000):
            candidate = times.get_next(datetime).replace(tzinfo=zone).astimezone(UTC)
            if candidate > moment:
                return candidate
        raise DefinitionError(f"cron schedule {text!r} has no time after {moment.isoformat()}")


def _check_cron(text: str) -> None:
    from croniter import croniter

    if not text.strip() or not croniter.is_valid(text):
        raise DefinitionError(
            f"invalid cron schedule {text!r}: write five fields (minute hour day month "
            "weekday; a sixth for seconds) such as '0 3 * * *', or @hourly, @daily, "
            "@weekly, @monthly, @yearly"
        )


def _zone(name: str) -> Any:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not isinstance(name, str) or not name:
        raise DefinitionError(f"timezone must be an IANA name such as 'UTC', got {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise DefinitionError(
            f"unknown timezone {name!r}: use an IANA name such as 'UTC', 'Europe/Berlin' "
            "or 'America/New_York'"
        ) from None


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise DefinitionError(f"naive datetime {moment!r}: pass a timezone-aware datetime")
    return moment
