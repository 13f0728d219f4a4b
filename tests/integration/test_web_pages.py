"""The HTML pages over a real SQLite store with real runs, through FastAPI's test client:
pipelines, runs (filters, paging, the live table), one run (DAG, node panel, log, previews,
code, metrics, artifacts), fragments against whole pages, forms that queue runs, buttons
a viewer never sees, the error page, and escaping of hostile names.

Lineage, datasets, models, alerts and compare are in ``test_web_pages_records.py``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pipelines_for_tests as flows
import pytest
from fastapi.testclient import TestClient
from page_helpers import pages_app
from sqlalchemy import text, update
from web_helpers import Records, make_records

import dagwell as dw
from dagwell.core.roles import Role
from dagwell.interfaces.web.access import Principal
from dagwell.storage.metadata.tables import attempts, runs, task_runs
from dagwell.storage.shared import metadata_store

HX = {"HX-Request": "true"}


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Records]:
    made = make_records(tmp_path_factory.mktemp("pages"))
    made.client = TestClient(pages_app(made.settings))
    with made.client:
        yield made


def ok(client: TestClient, url: str, **kwargs: object) -> str:
    answer = client.get(url, **kwargs)  # type: ignore[arg-type]
    assert answer.status_code == 200, (url, answer.text[:2000])
    assert answer.headers["content-type"].startswith("text/html")
    return answer.text


def is_whole_page(html: str) -> bool:
    return html.lstrip().lower().startswith("<!doctype html>")


# -- the frame ------------------------------------------------------------------------------


def test_every_page_has_the_nav_the_open_banner_and_the_csrf_token(records: Records) -> None:
    html = ok(records.client, "/")
    assert is_whole_page(html)
    for link in ('href="/runs"', 'href="/models"', 'href="/datasets"', 'href="/lineage"'):
        assert link in html
    assert "open: anyone who can reach this address can do anything" in html
    assert '<meta name="csrf-token"' in html
    assert """hx-headers='{"X-CSRF-Token": """ in html
    assert '<script src="/static/htmx.min.js"' in html


def test_static_files_are_served(records: Records) -> None:
    assert records.client.get("/static/dagwell.css").status_code == 200
    assert records.client.get("/static/htmx.min.js").status_code == 200


# -- pipelines ------------------------------------------------------------------------------


def test_pipelines_page_lists_each_with_runs_success_rate_and_a_trigger_button(
    records: Records,
) -> None:
    html = ok(records.client, "/")
    for name in ("basic", "one_branch_fails", "tracked", "adhoc"):
        assert f'data-pipeline="{name}"' in html
    basic = _row(html, 'data-pipeline="basic"')
    assert "100%" in basic
    assert f'href="/runs/{records.runs["basic"].id}"' in basic  # a state dot
    assert "state-succeeded" in basic
    assert "0%" in _row(html, 'data-pipeline="one_branch_fails"')
    # Only a registered pipeline can be triggered from the UI (no user code runs in it).
    assert 'href="/pipelines/adhoc/trigger"' in _row(html, 'data-pipeline="adhoc"')
    assert "/trigger" not in basic


def _row(html: str, marker: str) -> str:
    start = html.index(marker)
    return html[start : html.index("</tr>", start)]


# -- the runs page --------------------------------------------------------------------------


def test_runs_page_lists_runs_with_their_state_and_nodes(records: Records) -> None:
    html = ok(records.client, "/runs")
    assert is_whole_page(html)
    for run in records.runs.values():
        assert f'href="/runs/{run.id}"' in html
    failed = _row(html, f'data-run="{records.runs["failed"].id}"')
    assert "one_branch_fails" in failed
    assert "state-failed" in failed
    assert 'title="upstream_failed">1<' in failed  # node counts per state
    assert "n=5" in _row(html, f'data-run="{records.runs["basic"].id}"')  # params


def test_runs_filters_by_status_pipeline_trigger_and_time(records: Records) -> None:
    client = records.client
    failed = ok(client, "/runs?status=failed")
    assert records.runs["failed"].id in failed and records.runs["tracked"].id in failed
    assert records.runs["basic"].id not in _table(failed)
    basic = _table(ok(client, "/runs?pipeline=basic"))
    assert records.runs["basic"].id in basic and records.runs["failed"].id not in basic
    manual = _table(ok(client, "/runs?trigger=manual"))
    assert records.runs["basic"].id in manual
    assert "No runs match" in ok(client, "/runs?trigger=backfill")
    assert "No runs match" in ok(client, "/runs?since=2999-01-01T00:00")
    until = _table(ok(client, "/runs?until=2000-01-01"))
    assert records.runs["basic"].id not in until
    everything = _table(ok(client, "/runs?since=2000-01-01&until=2999-01-01T10:30"))
    assert records.runs["basic"].id in everything


def test_a_filter_that_makes_no_sense_is_said_on_the_page(records: Records) -> None:
    answer = records.client.get("/runs?since=yesterday-ish")
    assert answer.status_code == 422
    assert "since: not a date or time" in answer.text
    assert is_whole_page(answer.text)  # with the filter form, to fix it


def test_the_filter_form_keeps_what_was_chosen(records: Records) -> None:
    html = ok(records.client, "/runs?status=failed&pipeline=tracked")
    assert '<option value="failed" selected>' in html
    assert '<option value="tracked" selected>' in html


def test_runs_are_paged_by_cursor_without_gaps_or_repeats(records: Records) -> None:
    client = records.client
    seen: list[str] = []
    url: str | None = "/runs?limit=2"
    pages = 0
    while url is not None:
        html = ok(client, url)
        seen += re.findall(r'<tr data-run="([0-9a-f]+)"', html)
        older = re.search(r'href="(/runs\?[^"]*cursor=[^"]*)"[^>]*>Older', html)
        url = older.group(1).replace("&amp;", "&") if older else None
        if pages:
            assert "Newest" in html
        pages += 1
    assert pages >= 4
    assert len(seen) == len(set(seen))
    assert set(seen) >= {run.id for run in records.runs.values()}


def test_an_htmx_request_gets_only_the_table(records: Records) -> None:
    html = ok(records.client, "/runs?status=failed", headers=HX)
    assert not is_whole_page(html)
    assert html.lstrip().startswith('<div id="runs-table"')
    assert records.runs["failed"].id in html
    assert "<nav" not in html


def test_the_table_refreshes_itself_only_while_a_run_on_it_is_live(records: Records) -> None:
    live = ok(records.client, "/runs?status=queued", headers=HX)
    assert records.runs["queued"].id in live
    assert 'hx-trigger="every 2s"' in live
    assert 'hx-get="/runs?status=queued"' in live
    done = ok(records.client, "/runs?status=succeeded", headers=HX)
    assert "hx-trigger" not in done


def test_runs_can_be_picked_for_comparing(records: Records) -> None:
    html = ok(records.client, "/runs")
    assert '<form id="compare-form" method="get" action="/compare">' in html
    assert f'name="run" value="{records.runs["basic"].id}" form="compare-form"' in html


def _table(html: str) -> str:
    return html[html.index('<div id="runs-table"') :]


# -- one run --------------------------------------------------------------------------------


def test_run_page_shows_header_dag_timeline_and_the_run_error(records: Records) -> None:
    run = records.runs["failed"]
    html = ok(records.client, f"/runs/{run.id}")
    assert is_whole_page(html)
    assert run.id in html
    assert "one_branch_fails" in html
    assert "failed nodes: fail_loudly" in html or "fail_loudly" in html
    for node in ("numbers", "total", "fail_loudly", "after_failure", "collect"):
        assert f'data-node="{node}"' in html
    assert 'data-node="fail_loudly" data-state="failed"' in html
    assert 'data-node="after_failure" data-state="upstream_failed"' in html
    # a click on a node loads its panel into #node-detail, and the URL follows
    assert f'hx-get="/runs/{run.id}/node?node=fail_loudly" hx-target="#node-detail"' in html
    assert 'id="run-dag" hx-push-url="true"' in html
    assert 'class="dw-picture dw-gantt"' in html
    assert '<aside id="node-detail" aria-live="polite"></aside>' in html
    assert 'data-live="false"' in html and "hx-trigger" not in _poller(html)


def test_node_panel_shows_attempts_error_traceback_log_and_inputs(records: Records) -> None:
    run = records.runs["failed"]
    html = ok(records.client, f"/runs/{run.id}/node?node=fail_loudly", headers=HX)
    assert not is_whole_page(html)
    assert 'data-node="fail_loudly"' in html
    assert "ValueError: boom on 6" in html  # the error
    assert "Traceback" in html
    assert "about to fail on 6" in html  # the log
    assert '<table class="compact attempts">' in html
    assert 'total</span>.<span class="mono">return' in html  # its input, the upstream output
    # the DAG's selection follows the panel, so a live redraw keeps it
    assert 'id="selected-node" name="node" value="fail_loudly" hx-swap-oob="true"' in html


def test_a_node_url_opened_without_htmx_is_the_whole_page_with_the_panel(
    records: Records,
) -> None:
    run = records.runs["failed"]
    html = ok(records.client, f"/runs/{run.id}/node?node=fail_loudly")
    assert is_whole_page(html)
    assert 'class="dw-picture dw-dag"' in html
    assert "ValueError: boom on 6" in html
    assert "about to fail on 6" in html
    assert 'class="dw-node state-failed dw-selected"' in html
    assert html == ok(records.client, f"/runs/{run.id}?node=fail_loudly")


def test_unknown_node_is_a_404_page(records: Records) -> None:
    run = records.runs["failed"]
    answer = records.client.get(f"/runs/{run.id}/node?node=nope", headers=HX)
    assert answer.status_code == 404
    assert f"run {run.id} has no node &#39;nope&#39;" in answer.text


def test_log_tail_reads_from_an_offset(records: Records) -> None:
    run = records.runs["failed"]
    url = f"/runs/{run.id}/log?node=fail_loudly"
    whole = ok(records.client, url, headers=HX)
    assert whole.startswith("about to fail on 6")
    assert "hx-trigger" not in whole  # the attempt has ended: nothing to follow
    size = len(whole.encode())
    assert ok(records.client, f"{url}&offset=6", headers=HX).startswith("to fail on 6")
    assert ok(records.client, f"{url}&offset={size + 100}", headers=HX) == ""
    # a followed attempt that has ended reloads the panel once, to show how it ended
    followed = ok(records.client, f"{url}&offset=0&follow=true", headers=HX)
    assert f'hx-get="/runs/{run.id}/node?node=fail_loudly" hx-trigger="load"' in followed
    assert is_whole_page(ok(records.client, url))


def test_live_parts_come_back_out_of_band_and_stop_when_the_run_has_ended(
    records: Records,
) -> None:
    run = records.runs["basic"]
    html = ok(records.client, f"/runs/{run.id}/live?node=total", headers=HX)
    for part in ("run-poll", "run-header", "run-dag", "run-gantt", "run-metrics", "run-alerts"):
        assert re.search(rf'id="{part}"[^>]*hx-swap-oob="true"', html), part
    assert 'class="dw-node state-succeeded dw-selected" data-node="total"' in html
    assert "hx-trigger" not in _poller(html)  # finished: no more polling
    assert is_whole_page(ok(records.client, f"/runs/{run.id}/live"))


def test_a_queued_run_page_polls_for_news_and_can_be_cancelled(records: Records) -> None:
    run = records.runs["queued"]
    html = ok(records.client, f"/runs/{run.id}")
    poller = _poller(html)
    assert f'hx-get="/runs/{run.id}/live"' in poller
    assert 'hx-trigger="every 2s"' in poller and 'hx-include="#selected-node"' in poller
    assert f'action="/runs/{run.id}/cancel"' in html
    assert f'action="/runs/{run.id}/resume"' not in html
    assert "No attempt has started yet" in html


def _poller(html: str) -> str:
    start = html.index('<div id="run-poll"')
    return html[start : html.index(">", start)]


def test_failed_run_has_a_resume_button_and_resuming_queues_a_run(records: Records) -> None:
    run = records.runs["tracked"]
    html = ok(records.client, f"/runs/{run.id}")
    assert f'action="/runs/{run.id}/resume"' in html
    assert 'name="csrf_token"' in html
    answer = records.client.post(f"/runs/{run.id}/resume", follow_redirects=False)
    assert answer.status_code == 303
    new_id = answer.headers["location"].removeprefix("/runs/")
    resumed = dw.get_run(new_id, settings=records.settings)
    assert (resumed.status, resumed.trigger, resumed.parent_run_id) == ("queued", "resume", run.id)
    page = ok(records.client, f"/runs/{new_id}")
    assert f'href="/compare?run={run.id}&amp;run={new_id}"' in page
    # resuming it again while the first resume is queued is refused, on a page
    again = records.client.post(f"/runs/{run.id}/resume", follow_redirects=False)
    assert again.status_code == 409
    assert "being resumed already" in again.text and is_whole_page(again.text)


def test_metrics_are_charted_and_listed(records: Records) -> None:
    run = records.runs["tracked"]
    html = ok(records.client, f"/runs/{run.id}")
    section = html[html.index('id="run-metrics"') : html.index('id="run-artifacts"')]
    names = {m.name for m in run.metrics()}
    assert names
    for name in names:
        assert name in section
    stepped = {m.name for m in run.metrics() if m.step}
    for name in stepped:
        assert f'data-metric="{name}"' in section
        assert 'class="dw-picture dw-chart"' in section


def test_artifacts_are_listed_with_download_links_and_previews(records: Records) -> None:
    run = records.runs["artifacts"]
    html = ok(records.client, f"/runs/{run.id}")
    section = html[html.index('id="run-artifacts"') : html.index('id="run-code"')]
    for task in run.tasks.values():
        for name, stored in task.outputs.items():
            assert f"/runs/{run.id}/preview?node={task.node}&amp;name={name}" in section
            if not stored.is_inline:
                assert f'href="/api/v1/artifacts/{stored.hash}"' in section
    frame = ok(records.client, f"/runs/{run.id}/preview?node=make_frame&name=return", headers=HX)
    assert "6 rows" in frame and "2 columns" in frame and "<th" in frame
    array = ok(records.client, f"/runs/{run.id}/preview?node=make_array&name=return", headers=HX)
    assert "shape <code>[3, 2]</code>" in array and "mean" in array
    model = ok(records.client, f"/runs/{run.id}/preview?node=fit_model&name=return", headers=HX)
    assert "pickled values are not previewed" in model


def test_code_snapshot_lists_files_and_shows_each_with_git_info(records: Records) -> None:
    run = records.runs["failed"]
    code = dw.get_run(run.id, settings=records.settings).code
    assert code is not None and code.entry is not None
    html = ok(records.client, f"/runs/{run.id}")
    section = html[html.index('id="run-code"') : html.index('id="run-alerts"')]
    assert code.entry in section
    if code.git is not None:
        assert "Git commit" in section
    text = ok(records.client, f"/runs/{run.id}/code?path={code.entry}", headers=HX)
    assert "def fail_loudly" in text
    missing = records.client.get(f"/runs/{run.id}/code?path=../../etc/passwd", headers=HX)
    assert missing.status_code == 404
    if code.git is not None and code.git.get("diff"):
        diff = ok(records.client, f"/runs/{run.id}/code?git_diff=true", headers=HX)
        assert diff.startswith('<pre class="diff">')


# -- triggering from the form ---------------------------------------------------------------


def test_trigger_form_has_a_field_per_param_with_its_default(records: Records) -> None:
    html = ok(records.client, "/pipelines/adhoc/trigger")
    assert 'name="n" type="number" step="1" value="" required' in html
    assert 'name="label" type="text" value="x"' in html
    assert 'name="csrf_token"' in html


def test_the_form_queues_a_run_and_shows_it(records: Records) -> None:
    form = {"n": "7", "label": "from the form"}
    answer = records.client.post("/pipelines/adhoc/trigger", data=form, follow_redirects=False)
    assert answer.status_code == 303
    run_id = answer.headers["location"].removeprefix("/runs/")
    queued = dw.get_run(run_id, settings=records.settings)
    assert queued.status == "queued" and dict(queued.params) == {"n": 7, "label": "from the form"}
    page = ok(records.client, answer.headers["location"])
    assert "from the form" in page and 'hx-trigger="every 2s"' in page


def test_a_wrong_param_shows_the_form_again_with_the_error_and_the_values(
    records: Records,
) -> None:
    answer = records.client.post("/pipelines/adhoc/trigger", data={"n": "seven", "label": "kept"})
    assert answer.status_code == 422
    assert "expects int, got &#39;seven&#39;" in answer.text
    assert 'value="seven"' in answer.text and 'value="kept"' in answer.text


def test_a_pipeline_known_only_from_its_runs_cannot_be_triggered_here(records: Records) -> None:
    answer = records.client.get("/pipelines/basic/trigger")
    assert answer.status_code == 404
    assert "known only from its runs" in answer.text


# -- who sees which buttons -----------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR])
def test_buttons_are_drawn_only_for_those_allowed(records: Records, role: Role) -> None:
    client = TestClient(pages_app(records.settings, principal=Principal("ada", role)))
    operator = role is Role.OPERATOR
    home = ok(client, "/")
    assert ('href="/pipelines/adhoc/trigger"' in home) is operator
    assert "ada" in home and 'action="/logout"' in home  # who is signed in
    failed = ok(client, f"/runs/{records.runs['failed'].id}")
    assert ("/resume" in failed) is operator
    queued = ok(client, f"/runs/{records.runs['queued'].id}")
    assert ("/cancel" in queued) is operator
    model = ok(client, "/models/row_model")
    assert 'class="inline card set-alias"' not in model  # admins only


def test_an_anonymous_principal_sees_no_sign_out(records: Records) -> None:
    html = ok(records.client, "/")
    assert 'action="/logout"' not in html


# -- errors and escaping --------------------------------------------------------------------


def test_unknown_pages_and_runs_are_html_404s_and_the_api_stays_json(records: Records) -> None:
    for path in ("/nowhere", "/runs/nosuchrun", "/models/nosuchmodel"):
        answer = records.client.get(path)
        assert answer.status_code == 404, path
        assert answer.headers["content-type"].startswith("text/html")
        assert is_whole_page(answer.text) and "404 · Not Found" in answer.text
    assert "no run" in records.client.get("/runs/nosuchrun").text
    api = records.client.get("/api/v1/runs/nosuchrun")
    assert api.status_code == 404 and "error" in api.json()


HOSTILE = '<script>alert("x")</script>'


def test_hostile_names_and_values_are_escaped_everywhere(tmp_path: Path) -> None:
    settings = dw.Settings.from_env({}, home=tmp_path / "home")
    run = dw.run(flows.one_branch_fails, executor="inline", settings=settings)
    node = f"fail{HOSTILE}"
    store = metadata_store(settings.db_url)
    with store.transaction() as tx:
        tx.execute(text("PRAGMA defer_foreign_keys = ON"))  # rename a node and its attempts
        for table in (task_runs, attempts):
            tx.execute(
                update(table)
                .where(table.c.run_id == run.id, table.c.node == "fail_loudly")
                .values(node=node, error=f"ValueError: {HOSTILE}")
            )
        tx.execute(
            update(task_runs)
            .where(task_runs.c.run_id == run.id, task_runs.c.node == "after_failure")
            .values(upstream=[node])
        )
        tx.execute(
            update(runs).where(runs.c.id == run.id).values(params={HOSTILE: HOSTILE}, error=HOSTILE)
        )
    client = TestClient(pages_app(settings))
    from urllib.parse import quote

    for url, headers in (
        (f"/runs/{run.id}", {}),
        (f"/runs/{run.id}?node={quote(node)}", {}),
        (f"/runs/{run.id}/node?node={quote(node)}", HX),
        (f"/runs/{run.id}/live", HX),
        ("/runs", {}),
        (f"/compare?run={run.id}&run={HOSTILE}", {}),
    ):
        answer = client.get(url, headers=headers)
        assert HOSTILE not in answer.text, url
        assert "<script>alert" not in answer.text, url
    html = client.get(f"/runs/{run.id}/node?node={quote(node)}", headers=HX).text
    assert "ValueError: &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
