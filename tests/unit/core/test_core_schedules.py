"""Tests for dagwell.core.schedules: cron and intervals in a time zone, DST, catch-up.

Every function here takes its moment as an argument, so nothing waits for the clock.
"""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

import dagwell as dw
from dagwell.core.schedules import Every, Schedule, parse_every
from dagwell.errors import DefinitionError

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def local(moments: list[datetime], zone: ZoneInfo = BERLIN) -> list[str]:
    """``moments`` as local wall-clock text with the offset, for readable comparisons."""
    return [m.astimezone(zone).isoformat() for m in moments]


def gaps(times: list[datetime]) -> set[timedelta]:
    """The distinct differences between consecutive ``times``."""
    return {b - a for a, b in itertools.pairwise(times)}


def day_in(zone: ZoneInfo, day: date) -> tuple[datetime, datetime]:
    """``(after, until)`` for :meth:`Schedule.times` covering exactly the local ``day``."""
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    following = day + timedelta(days=1)
    end = datetime(following.year, following.month, following.day, tzinfo=zone)
    return start - timedelta(microseconds=1), end - timedelta(microseconds=1)


# -- cron in a time zone ---------------------------------------------------------------


def test_cron_in_utc_gives_the_next_time_strictly_after_the_moment():
    schedule = Schedule("0 3 * * *")
    assert schedule.next_after(utc(2026, 1, 10, 2, 59)) == utc(2026, 1, 10, 3)
    assert schedule.next_after(utc(2026, 1, 10, 3)) == utc(2026, 1, 11, 3)
    assert schedule.next_after(utc(2026, 1, 10, 3, 0, 1)) == utc(2026, 1, 11, 3)


def test_next_after_returns_utc():
    found = Schedule("0 3 * * *", timezone="Europe/Berlin").next_after(utc(2026, 1, 10))
    assert found.utcoffset() == timedelta(0)


def test_next_after_accepts_a_moment_in_any_zone():
    schedule = Schedule("0 3 * * *", timezone="Europe/Berlin")
    moment = datetime(2026, 1, 10, 1, 0, tzinfo=NEW_YORK)  # 06:00 UTC, 07:00 in Berlin
    assert schedule.next_after(moment) == utc(2026, 1, 11, 2)


def test_cron_in_berlin_is_wall_clock_time_in_winter_and_summer():
    schedule = Schedule("0 3 * * *", timezone="Europe/Berlin")
    assert schedule.next_after(utc(2026, 1, 10)) == utc(2026, 1, 10, 2)  # CET, UTC+1
    assert schedule.next_after(utc(2026, 7, 10)) == utc(2026, 7, 10, 1)  # CEST, UTC+2


def test_cron_in_new_york_is_wall_clock_time_in_winter_and_summer():
    schedule = Schedule("0 3 * * *", timezone="America/New_York")
    assert schedule.next_after(utc(2026, 1, 10)) == utc(2026, 1, 10, 8)  # EST, UTC-5
    assert schedule.next_after(utc(2026, 7, 10)) == utc(2026, 7, 10, 7)  # EDT, UTC-4


def test_cron_weekday_field_is_read_in_the_schedule_zone():
    # Monday 00:30 in Berlin is still Sunday in UTC.
    schedule = Schedule("30 0 * * 1", timezone="Europe/Berlin")
    found = schedule.next_after(utc(2026, 1, 1))
    assert found == utc(2026, 1, 4, 23, 30)
    assert found.astimezone(BERLIN).weekday() == 0


def test_daily_alias_is_midnight_in_the_schedule_zone():
    schedule = Schedule("@daily", timezone="Europe/Berlin")
    assert schedule.text == "@daily"
    times = schedule.times(utc(2026, 1, 1), utc(2026, 1, 4))
    assert local(times) == [
        "2026-01-02T00:00:00+01:00",
        "2026-01-03T00:00:00+01:00",
        "2026-01-04T00:00:00+01:00",
    ]


def test_hourly_alias_is_every_hour_on_the_hour():
    schedule = Schedule("@hourly")
    times = schedule.times(utc(2026, 1, 1, 10, 30), utc(2026, 1, 1, 14))
    assert times == [
        utc(2026, 1, 1, 11),
        utc(2026, 1, 1, 12),
        utc(2026, 1, 1, 13),
        utc(2026, 1, 1, 14),
    ]


def test_times_are_in_the_half_open_range_after_until():
    schedule = Schedule("0 * * * *")
    times = schedule.times(utc(2026, 1, 1, 10), utc(2026, 1, 1, 12))
    assert times == [utc(2026, 1, 1, 11), utc(2026, 1, 1, 12)]
    assert schedule.times(utc(2026, 1, 1, 10), utc(2026, 1, 1, 10, 59)) == []


def test_times_refuses_more_than_limit():
    with pytest.raises(DefinitionError, match="more than 5 times"):
        Schedule("* * * * *").times(utc(2026, 1, 1), utc(2026, 1, 2), limit=5)


def test_times_exactly_at_limit_is_allowed():
    times = Schedule("0 * * * *").times(utc(2026, 1, 1), utc(2026, 1, 1, 5), limit=5)
    assert len(times) == 5


# -- daylight saving time --------------------------------------------------------------


def test_daily_job_in_the_spring_gap_runs_once_at_the_first_moment_after_it():
    """On 2026-03-29 Berlin skips 02:00-03:00: a 02:30 job runs at 03:30 local that day."""
    schedule = Schedule("30 2 * * *", timezone="Europe/Berlin")
    times = schedule.times(utc(2026, 3, 27), utc(2026, 3, 31))
    assert local(times) == [
        "2026-03-27T02:30:00+01:00",
        "2026-03-28T02:30:00+01:00",
        "2026-03-29T03:30:00+02:00",
        "2026-03-30T02:30:00+02:00",
    ]


def test_daily_job_in_the_repeated_autumn_hour_runs_once_at_the_first_pass():
    """On 2026-10-25 Berlin repeats 02:00-03:00: a 02:30 job runs once, at 02:30 CEST."""
    schedule = Schedule("30 2 * * *", timezone="Europe/Berlin")
    times = schedule.times(utc(2026, 10, 23), utc(2026, 10, 27))
    assert local(times) == [
        "2026-10-23T02:30:00+02:00",
        "2026-10-24T02:30:00+02:00",
        "2026-10-25T02:30:00+02:00",
        "2026-10-26T02:30:00+01:00",
    ]
    assert times[2] == utc(2026, 10, 25, 0, 30)


def test_daily_job_is_not_repeated_when_asked_between_the_two_passes():
    schedule = Schedule("30 2 * * *", timezone="Europe/Berlin")
    # 01:00 UTC on 2026-10-25 is 02:00 CET, the second pass of the repeated hour.
    assert schedule.next_after(utc(2026, 10, 25, 1)) == utc(2026, 10, 26, 1, 30)
    # and just after the first 02:30 (00:30 UTC), the second 02:30 (01:30 UTC) is skipped
    assert schedule.next_after(utc(2026, 10, 25, 0, 30)) == utc(2026, 10, 26, 1, 30)


@pytest.mark.parametrize(
    ("after", "until", "expected"),
    [
        (
            utc(2026, 3, 28),
            utc(2026, 3, 31),
            [
                "2026-03-28T03:00:00+01:00",
                "2026-03-29T03:00:00+02:00",
                "2026-03-30T03:00:00+02:00",
            ],
        ),
        (
            utc(2026, 10, 24),
            utc(2026, 10, 27),
            [
                "2026-10-24T03:00:00+02:00",
                "2026-10-25T03:00:00+01:00",
                "2026-10-26T03:00:00+01:00",
            ],
        ),
    ],
    ids=["spring-forward", "fall-back"],
)
def test_daily_job_outside_the_changed_hour_keeps_its_wall_clock_time(after, until, expected):
    schedule = Schedule("0 3 * * *", timezone="Europe/Berlin")
    assert local(schedule.times(after, until)) == expected


@pytest.mark.parametrize(
    ("zone", "first_day"),
    [
        ("Europe/Berlin", date(2026, 3, 26)),
        ("Europe/Berlin", date(2026, 10, 22)),
        ("America/New_York", date(2026, 3, 5)),
        ("America/New_York", date(2026, 10, 29)),
    ],
)
@pytest.mark.parametrize("spec", ["30 2 * * *", "0 2 * * *", "30 1 * * *", "0 3 * * *"])
def test_times_over_a_dst_week_give_one_time_per_local_day(zone, first_day, spec):
    tz = ZoneInfo(zone)
    after, _ = day_in(tz, first_day)
    _, until = day_in(tz, first_day + timedelta(days=6))
    times = Schedule(spec, timezone=zone).times(after, until)
    days = [t.astimezone(tz).date() for t in times]
    assert days == [first_day + timedelta(days=n) for n in range(7)]


def test_new_york_spring_gap_and_autumn_repeat():
    gap = Schedule("30 2 * * *", timezone="America/New_York")
    assert local(gap.times(utc(2026, 3, 7, 12), utc(2026, 3, 9, 12)), NEW_YORK) == [
        "2026-03-08T03:30:00-04:00",
        "2026-03-09T02:30:00-04:00",
    ]
    repeat = Schedule("30 1 * * *", timezone="America/New_York")
    assert local(repeat.times(utc(2026, 10, 31, 12), utc(2026, 11, 2, 12)), NEW_YORK) == [
        "2026-11-01T01:30:00-04:00",
        "2026-11-02T01:30:00-05:00",
    ]


# -- fixed intervals -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("made", "seconds"),
    [
        (dw.every(seconds=30), 30.0),
        (dw.every(minutes=5), 300.0),
        (dw.every(hours=2), 7200.0),
        (dw.every(days=1), 86400.0),
        (dw.every(minutes=1, seconds=30), 90.0),
        (dw.every(hours=0.5), 1800.0),
    ],
)
def test_every_adds_up_its_units_in_seconds(made, seconds):
    assert made == Every(seconds)


@pytest.mark.parametrize(
    ("interval", "text"),
    [
        (Every(30), "every 30s"),
        (Every(90), "every 90s"),
        (Every(300), "every 5m"),
        (Every(5400), "every 90m"),
        (Every(7200), "every 2h"),
        (Every(86400), "every 1d"),
        (Every(172800), "every 2d"),
        (Every(1.5), "every 1.5s"),
    ],
)
def test_every_text_uses_the_largest_whole_unit(interval, text):
    assert interval.text == text


@pytest.mark.parametrize("seconds", [1, 30, 90, 300, 5400, 7200, 86400, 172800, 1.5])
def test_parse_every_reads_back_every_text(seconds):
    interval = Every(float(seconds))
    assert parse_every(interval.text) == interval


@pytest.mark.parametrize("text", ["0 3 * * *", "@daily", "every", "each 5m", ""])
def test_parse_every_returns_none_for_other_text(text):
    assert parse_every(text) is None


@pytest.mark.parametrize(
    "text", ["every 5", "every 5x", "every abcm", "every 0s", "every -5m", "every nans"]
)
def test_a_malformed_interval_is_refused_with_the_text_quoted(text):
    with pytest.raises(DefinitionError, match=f"invalid interval schedule '{text}'"):
        Schedule(text)


def test_catching_up_without_catchup_finds_the_newest_time_without_walking_the_gap():
    schedule = Schedule("* * * * *", start=datetime(2025, 6, 1))
    now = datetime(2026, 11, 26, 16, 30, 30, tzinfo=timezone.utc)

    times, next_due = schedule.due(schedule.first_due(now), now)

    assert times == [datetime(2026, 11, 26, 16, 30, tzinfo=timezone.utc)]
    assert next_due == datetime(2026, 11, 26, 16, 31, tzinfo=timezone.utc)


def test_the_newest_time_in_the_repeated_hour_is_its_first_pass():
    """02:30 Berlin on the fall-back day ran at 00:30 UTC; asked at 02:10 CET (01:10 UTC)."""
    schedule = Schedule("30 2 * * *", timezone="Europe/Berlin")
    now = datetime(2026, 10, 25, 1, 10, tzinfo=timezone.utc)

    times, _ = schedule.due(datetime(2026, 10, 20, 0, 30, tzinfo=timezone.utc), now)

    assert times == [datetime(2026, 10, 25, 0, 30, tzinfo=timezone.utc)]


def test_schedule_reads_every_text_as_an_interval():
    schedule = Schedule("every 15m")
    assert schedule.spec == Every(900.0)
    assert schedule.text == "every 15m"


def test_every_is_aligned_to_the_epoch_without_start():
    schedule = Schedule(dw.every(minutes=15))
    assert schedule.next_after(utc(2026, 1, 1, 10, 7, 13)) == utc(2026, 1, 1, 10, 15)
    assert schedule.next_after(utc(2026, 1, 1, 10, 15)) == utc(2026, 1, 1, 10, 30)


def test_every_is_aligned_to_start():
    schedule = Schedule(dw.every(hours=1), start=utc(2026, 1, 1, 0, 20))
    assert schedule.next_after(utc(2026, 1, 5, 10)) == utc(2026, 1, 5, 10, 20)
    assert schedule.next_after(utc(2026, 1, 5, 10, 20)) == utc(2026, 1, 5, 11, 20)


def test_every_before_start_is_due_at_start():
    schedule = Schedule(dw.every(seconds=30), start=utc(2026, 1, 1, 0, 0, 7))
    assert schedule.next_after(utc(2025, 6, 1)) == utc(2026, 1, 1, 0, 0, 7)


def test_every_times_are_exactly_one_interval_apart_in_utc():
    schedule = Schedule(dw.every(seconds=45))
    times = schedule.times(utc(2026, 1, 1), utc(2026, 1, 1, 1))
    assert len(times) == 80
    assert gaps(times) == {timedelta(seconds=45)}


def test_every_in_berlin_is_strictly_after_the_moment_in_summer():
    """Intervals are real time: 30 min from 1970-01-01 00:00 Berlin is :00 and :30 UTC."""
    schedule = Schedule(dw.every(minutes=30), timezone="Europe/Berlin")
    moment = utc(2026, 7, 1, 10, 15)
    assert schedule.next_after(moment) == utc(2026, 7, 1, 10, 30)


def test_every_day_in_berlin_is_24_real_hours_across_the_spring_change():
    """Every documents intervals "in seconds of real (UTC) time", DST or not."""
    schedule = Schedule(dw.every(days=1), timezone="Europe/Berlin")
    times = schedule.times(utc(2026, 3, 26), utc(2026, 4, 2))
    assert gaps(times) == {timedelta(days=1)}


def test_every_minute_in_berlin_catches_up_forwards_in_summer():
    schedule = Schedule(dw.every(minutes=1), timezone="Europe/Berlin", catchup=True)
    times, next_due = schedule.due(utc(2026, 7, 1, 10), utc(2026, 7, 1, 10, 3))
    assert times == [utc(2026, 7, 1, 10, minute) for minute in range(4)]
    assert next_due == utc(2026, 7, 1, 10, 4)


def test_every_with_a_naive_start_in_berlin_keeps_its_interval_across_dst():
    schedule = Schedule(
        dw.every(hours=6), timezone="Europe/Berlin", start=datetime(2026, 3, 28, 12)
    )
    times = schedule.times(utc(2026, 3, 28), utc(2026, 3, 30))
    assert times[0] == utc(2026, 3, 28, 11)
    assert gaps(times) == {timedelta(hours=6)}


# -- start -----------------------------------------------------------------------------


def test_cron_start_is_respected():
    schedule = Schedule("0 3 * * *", start=utc(2026, 2, 1))
    assert schedule.next_after(utc(2026, 1, 1)) == utc(2026, 2, 1, 3)
    assert schedule.times(utc(2026, 1, 1), utc(2026, 2, 2, 12)) == [
        utc(2026, 2, 1, 3),
        utc(2026, 2, 2, 3),
    ]


def test_a_time_exactly_at_start_is_included():
    schedule = Schedule("0 3 * * *", start=utc(2026, 2, 1, 3))
    assert schedule.next_after(utc(2026, 1, 1)) == utc(2026, 2, 1, 3)


def test_naive_start_is_read_in_the_schedule_zone():
    schedule = Schedule("0 3 * * *", timezone="Europe/Berlin", start=datetime(2026, 2, 1, 3, 30))
    assert schedule.start == datetime(2026, 2, 1, 3, 30, tzinfo=BERLIN)
    # 03:00 Berlin on Feb 1 is before start (03:30 Berlin), so Feb 2 is the first time
    assert schedule.next_after(utc(2026, 1, 1)) == utc(2026, 2, 2, 2)


def test_naive_start_in_new_york_differs_from_the_same_start_in_utc():
    in_ny = Schedule("0 * * * *", timezone="America/New_York", start=datetime(2026, 2, 1, 3))
    in_utc = Schedule("0 * * * *", start=datetime(2026, 2, 1, 3))
    assert in_ny.next_after(utc(2026, 1, 1)) == utc(2026, 2, 1, 8)
    assert in_utc.next_after(utc(2026, 1, 1)) == utc(2026, 2, 1, 3)


def test_aware_start_keeps_its_own_zone():
    start = datetime(2026, 2, 1, 3, tzinfo=NEW_YORK)
    schedule = Schedule("0 * * * *", timezone="Europe/Berlin", start=start)
    assert schedule.start is start
    assert schedule.next_after(utc(2026, 1, 1)) == utc(2026, 2, 1, 8)


def test_start_does_not_matter_once_past():
    schedule = Schedule("0 3 * * *", start=utc(2026, 2, 1))
    assert schedule.next_after(utc(2026, 5, 1, 4)) == utc(2026, 5, 2, 3)


def test_schedule_params_are_copied_into_a_dict():
    given = {"n": 1}
    schedule = Schedule("@daily", params=given)
    given["n"] = 2
    assert schedule.params == {"n": 1}
    assert Schedule("@daily").params == {}


# -- first_due and due -----------------------------------------------------------------


def test_first_due_without_start_is_the_next_time_after_registration():
    schedule = Schedule("0 3 * * *")
    assert schedule.first_due(utc(2026, 1, 10, 12)) == utc(2026, 1, 11, 3)
    assert schedule.first_due(utc(2026, 1, 10, 3)) == utc(2026, 1, 11, 3)


def test_first_due_with_a_past_start_is_the_first_time_from_start():
    schedule = Schedule("0 3 * * *", start=utc(2026, 1, 1), catchup=True)
    assert schedule.first_due(utc(2026, 1, 10, 12)) == utc(2026, 1, 1, 3)


def test_first_due_with_start_includes_a_time_exactly_at_start():
    schedule = Schedule("0 3 * * *", start=utc(2026, 1, 1, 3))
    assert schedule.first_due(utc(2026, 1, 10)) == utc(2026, 1, 1, 3)


def test_first_due_with_a_future_start():
    schedule = Schedule(dw.every(minutes=10), start=utc(2026, 6, 1, 0, 5))
    assert schedule.first_due(utc(2026, 1, 1)) == utc(2026, 6, 1, 0, 5)


def test_nothing_is_due_before_next_due():
    for catchup in (True, False):
        schedule = Schedule("0 3 * * *", catchup=catchup)
        next_due = utc(2026, 1, 2, 3)
        assert schedule.due(next_due, utc(2026, 1, 2, 2, 59, 59)) == ([], next_due)


def test_due_exactly_at_next_due():
    schedule = Schedule("0 3 * * *")
    assert schedule.due(utc(2026, 1, 2, 3), utc(2026, 1, 2, 3)) == (
        [utc(2026, 1, 2, 3)],
        utc(2026, 1, 3, 3),
    )


def test_due_with_catchup_returns_every_missed_time():
    schedule = Schedule("0 3 * * *", catchup=True)
    times, next_due = schedule.due(utc(2026, 1, 1, 3), utc(2026, 1, 5, 12))
    assert times == [utc(2026, 1, day, 3) for day in range(1, 6)]
    assert next_due == utc(2026, 1, 6, 3)


def test_due_with_catchup_honours_limit_and_continues_on_the_next_call():
    schedule = Schedule("0 3 * * *", catchup=True)
    now = utc(2026, 1, 5, 12)
    first, next_due = schedule.due(utc(2026, 1, 1, 3), now, limit=2)
    assert first == [utc(2026, 1, 1, 3), utc(2026, 1, 2, 3)]
    assert next_due == utc(2026, 1, 3, 3)
    second, next_due = schedule.due(next_due, now, limit=2)
    assert second == [utc(2026, 1, 3, 3), utc(2026, 1, 4, 3)]
    third, next_due = schedule.due(next_due, now, limit=2)
    assert third == [utc(2026, 1, 5, 3)]
    assert next_due == utc(2026, 1, 6, 3)
    assert schedule.due(next_due, now, limit=2) == ([], next_due)


def test_due_without_catchup_returns_only_the_newest_missed_time():
    schedule = Schedule("0 3 * * *", catchup=False)
    times, next_due = schedule.due(utc(2026, 1, 1, 3), utc(2026, 1, 5, 12))
    assert times == [utc(2026, 1, 5, 3)]
    assert next_due == utc(2026, 1, 6, 3)


def test_due_without_catchup_for_an_interval():
    schedule = Schedule(dw.every(minutes=10))
    times, next_due = schedule.due(utc(2026, 1, 1, 10), utc(2026, 1, 1, 10, 35))
    assert times == [utc(2026, 1, 1, 10, 30)]
    assert next_due == utc(2026, 1, 1, 10, 40)


def test_due_with_catchup_for_an_interval():
    schedule = Schedule(dw.every(minutes=10), catchup=True)
    times, next_due = schedule.due(utc(2026, 1, 1, 10), utc(2026, 1, 1, 10, 35))
    assert times == [utc(2026, 1, 1, 10, minute) for minute in (0, 10, 20, 30)]
    assert next_due == utc(2026, 1, 1, 10, 40)


def test_due_across_the_autumn_change_catches_up_each_day_once():
    schedule = Schedule("30 2 * * *", timezone="Europe/Berlin", catchup=True)
    next_due = schedule.first_due(utc(2026, 10, 23, 12))
    times, _ = schedule.due(next_due, utc(2026, 10, 27, 12))
    assert local(times) == [
        "2026-10-24T02:30:00+02:00",
        "2026-10-25T02:30:00+02:00",
        "2026-10-26T02:30:00+01:00",
        "2026-10-27T02:30:00+01:00",
    ]


# -- errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["61 * * * *", "0 3 * *", "not a cron", "0 25 * * *", "@sometimes"]
)
def test_invalid_cron_is_refused_with_the_text_quoted(text):
    with pytest.raises(DefinitionError, match="invalid cron schedule") as caught:
        Schedule(text)
    assert repr(text) in str(caught.value)


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_cron_is_refused(text):
    with pytest.raises(DefinitionError, match="invalid cron schedule"):
        Schedule(text)


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "Europe/Berlinn", "CEST+2", "../etc"])
def test_unknown_timezone_is_refused_with_the_name_quoted(zone):
    with pytest.raises(DefinitionError, match="unknown timezone") as caught:
        Schedule("@daily", timezone=zone)
    assert repr(zone) in str(caught.value)


def test_empty_timezone_is_refused():
    with pytest.raises(DefinitionError, match="IANA name"):
        Schedule("@daily", timezone="")


@pytest.mark.parametrize(
    "options",
    [{}, {"seconds": 0}, {"seconds": -30}, {"minutes": 1, "seconds": -60}, {"days": -1}],
)
def test_every_refuses_a_zero_or_negative_interval(options):
    with pytest.raises(DefinitionError, match="positive interval"):
        dw.every(**options)


@pytest.mark.parametrize("spec", [30, None, timedelta(minutes=5), ["0 3 * * *"]])
def test_a_schedule_of_another_type_is_refused(spec):
    with pytest.raises(DefinitionError, match="schedule must be cron text"):
        Schedule(spec)


def test_start_must_be_a_datetime():
    with pytest.raises(DefinitionError, match="start must be a datetime"):
        Schedule("@daily", start=date(2026, 1, 1))


def test_naive_datetimes_are_refused():
    schedule = Schedule("0 3 * * *")
    naive = datetime(2026, 1, 1, 12)
    with pytest.raises(DefinitionError, match="naive datetime"):
        schedule.next_after(naive)
    with pytest.raises(DefinitionError, match="naive datetime"):
        schedule.times(naive, utc(2026, 1, 5))
    with pytest.raises(DefinitionError, match="naive datetime"):
        schedule.times(utc(2026, 1, 1), naive)
    with pytest.raises(DefinitionError, match="naive datetime"):
        schedule.due(utc(2026, 1, 1, 3), naive)
    with pytest.raises(DefinitionError, match="naive datetime"):
        schedule.first_due(naive)


# -- properties ------------------------------------------------------------------------

CRONS = ["0 3 * * *", "30 2 * * *", "*/7 * * * *", "@hourly", "@daily", "15 1,2,3 * * 1-5"]
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"]
MOMENTS = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)


@hypothesis_settings(max_examples=150, deadline=None)
@given(spec=st.sampled_from(CRONS), zone=st.sampled_from(ZONES), moment=MOMENTS)
def test_cron_next_after_is_strictly_after_and_increasing(spec, zone, moment):
    schedule = Schedule(spec, timezone=zone)
    first = schedule.next_after(moment)
    second = schedule.next_after(first)
    assert moment < first < second
    assert schedule.times(moment, second) == [first, second]


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/New_York"])
@hypothesis_settings(max_examples=100, deadline=None)
@given(
    seconds=st.integers(min_value=1, max_value=3 * 86400),
    moment=MOMENTS,
    start=st.none() | MOMENTS,
)
def test_every_gives_times_exactly_one_interval_apart(zone, seconds, moment, start):
    schedule = Schedule(dw.every(seconds=seconds), timezone=zone, start=start)
    first = schedule.next_after(moment)
    second = schedule.next_after(first)
    assert first > moment
    assert second - first == timedelta(seconds=seconds)


@hypothesis_settings(max_examples=150, deadline=None)
@given(
    spec=st.sampled_from(["30 2 * * *", "0 2 * * *", "0 3 * * *", "0 0 * * *", "59 23 * * *"]),
    day=st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 12, 31)),
)
def test_daily_cron_in_berlin_has_exactly_one_time_per_local_date(spec, day):
    after, until = day_in(BERLIN, day)
    times = Schedule(spec, timezone="Europe/Berlin").times(after, until)
    assert [t.astimezone(BERLIN).date() for t in times] == [day]
