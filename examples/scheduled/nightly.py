"""Scheduled pipelines for ``dagwell scheduler examples/scheduled``.

``refresh`` runs every 30 seconds; ``nightly_report`` every night at 03:00 Berlin time and
catches up on nights missed while the scheduler was down. Both log their alerts.

    dagwell scheduler examples/scheduled          # live view; Ctrl-C stops it
    dagwell trigger nightly_report -p top=5       # one more run, now
    dagwell backfill nightly_report --start 2026-11-01 --end 2026-11-07
"""

from __future__ import annotations

import datetime
import random

import dagwell as dw


@dw.task(retries=2, retry_delay=1.0, sla=10, on_retry=dw.notify.log())
def fetch_prices(day: str) -> list[float]:
    """Prices seen on ``day`` (made up, and failing now and then like a real API)."""
    rng = random.Random(day)
    if random.random() < 0.2:
        raise ConnectionError("the price API timed out")
    return [round(rng.uniform(90, 110), 2) for _ in range(24)]


@dw.task
def summarize(prices: list[float], top: int) -> dict[str, float]:
    """Mean, low and high, logged as metrics."""
    summary = {"mean": sum(prices) / len(prices), "low": min(prices), "high": max(prices)}
    dw.log_metrics(summary)
    dw.log_param("top", top)
    return summary


@dw.task
def day_of_run() -> str:
    """The run's logical day (``dw.current().scheduled_for``), today when started by hand."""
    scheduled = dw.current().scheduled_for or datetime.datetime.now(datetime.timezone.utc)
    return scheduled.date().isoformat()


@dw.pipeline(schedule=dw.every(seconds=30), on_failure=dw.notify.log())
def refresh(top: int = 3):
    """A short pipeline on a fast schedule."""
    return summarize(fetch_prices(day_of_run()), top)


@dw.pipeline(
    schedule="0 3 * * *",
    timezone="Europe/Berlin",
    start=datetime.datetime(2026, 11, 1),
    catchup=True,
    max_active_runs=2,
    sla=datetime.timedelta(minutes=30),
    on_failure=dw.notify.log(),
)
def nightly_report(top: int = 3):
    """Last night's report; every night missed while the scheduler was down is caught up."""
    return summarize(fetch_prices(day_of_run()), top)
