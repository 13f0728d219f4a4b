"""The runs page and the run page stay quick on a busy install: 10,000 runs, and a run of
1,000 nodes. ``bench/ui_pages.py`` measures the same more carefully (``make bench``); here
the bounds are loose, since tests share the machine."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from page_helpers import pages_app, seed_runs, seed_wide_run

import dagwell as dw

LIMIT = 1.0
"""Seconds a page may take here (the target, 0.1 s, is checked by the bench)."""


@dataclass
class Busy:
    client: TestClient
    ids: list[str]
    wide: str


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Busy]:
    home: Path = tmp_path_factory.mktemp("busy") / "home"
    settings = dw.Settings.from_env({}, home=home)
    ids = seed_runs(settings, 10_000)
    wide = seed_wide_run(settings, 1_000)
    with TestClient(pages_app(settings)) as client:
        client.get("/runs")  # warm up: the first request builds the app and the schema
        yield Busy(client, ids, wide)


def timed(client: TestClient, url: str, **kwargs: object) -> tuple[str, float]:
    begin = time.perf_counter()
    answer = client.get(url, **kwargs)  # type: ignore[arg-type]
    took = time.perf_counter() - begin
    assert answer.status_code == 200, answer.text[:500]
    return answer.text, took


def test_the_runs_page_is_quick_on_its_first_and_a_deep_page(busy: Busy) -> None:
    html, took = timed(busy.client, "/runs")
    assert took < LIMIT
    assert re.findall(r'<tr data-run="(\w+)"', html) == [busy.wide, *busy.ids[:49]]
    deep = busy.ids[5_000]
    html, took = timed(busy.client, f"/runs?cursor={deep}")
    assert took < LIMIT
    assert re.findall(r'<tr data-run="(\w+)"', html)[0] == busy.ids[5_001]


def test_filtering_10000_runs_is_quick(busy: Busy) -> None:
    html, took = timed(busy.client, "/runs?status=failed&pipeline=pipeline_3&trigger=schedule")
    assert took < LIMIT
    assert html.count("<tr data-run=") == 50


def test_a_run_of_1000_nodes_is_quick_whole_and_live(busy: Busy) -> None:
    html, took = timed(busy.client, f"/runs/{busy.wide}")
    assert took < 3 * LIMIT  # the first draw lays the graph out
    assert html.count('class="dw-node ') == 1_002
    _, took = timed(busy.client, f"/runs/{busy.wide}/live", headers={"HX-Request": "true"})
    assert took < LIMIT
    panel, took = timed(
        busy.client, f"/runs/{busy.wide}/node?node=fit%5B4%5D", headers={"HX-Request": "true"}
    )
    assert took < LIMIT and "ValueError: no" in panel
