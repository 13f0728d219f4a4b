"""The record pages over a real SQLite store with real runs: compare, lineage, datasets,
models (and moving an alias from the form), alerts. The pipelines, runs and run pages are
in ``test_web_pages.py``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import quote

import pipelines_for_alerts as alerting
import pipelines_for_tests as flows
import pytest
from fastapi.testclient import TestClient
from page_helpers import pages_app
from web_helpers import Records, make_records

import dagwell as dw
from dagwell.core.roles import Role
from dagwell.interfaces.web.access import Principal

HX = {"HX-Request": "true"}


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Records]:
    made = make_records(tmp_path_factory.mktemp("record-pages"))
    settings = made.settings
    made.runs["basic_again"] = dw.run(flows.basic, {"n": 3}, executor="inline", settings=settings)
    made.runs["alerting"] = dw.run(
        alerting.failing([dw.notify.log()]), executor="inline", settings=settings
    )
    made.client = TestClient(pages_app(settings))
    with made.client:
        yield made


def ok(client: TestClient, url: str, **kwargs: object) -> str:
    answer = client.get(url, **kwargs)  # type: ignore[arg-type]
    assert answer.status_code == 200, (url, answer.text[:2000])
    return answer.text


# -- compare --------------------------------------------------------------------------------


def test_compare_shows_params_side_by_side_with_differences_marked(records: Records) -> None:
    a, b = records.runs["basic"], records.runs["basic_again"]
    html = ok(records.client, f"/compare?run={a.id}&run={b.id[:6]}")
    for run in (a, b):
        assert f'href="/runs/{run.id}"' in html
    n = _row(html, 'data-row="n"')
    assert 'class="differs"' in n
    assert ">5<" in n and ">3<" in n
    assert 'class="same"' in _row(html, 'data-row="factor"')
    assert 'data-section="metrics"' in html and 'data-section="environment"' in html
    # The same files (the git state may differ: others edit this checkout meanwhile).
    assert "Same code." in html or "The files are the same" in html


def test_compare_can_keep_only_the_differences(records: Records) -> None:
    a, b = records.runs["basic"], records.runs["basic_again"]
    html = ok(records.client, f"/compare?run={a.id}&run={b.id}&only=diff")
    assert 'data-row="n"' in html
    assert 'data-row="factor"' not in html


def test_compare_overlays_metrics_logged_over_steps(records: Records) -> None:
    tracked = records.runs["tracked"]
    again = dw.run(flows.tracked, {"epochs": 5}, executor="inline", settings=records.settings)
    html = ok(records.client, f"/compare?run={tracked.id}&run={again.id}")
    assert 'data-metric="learn/loss"' in html
    chart = html[html.index('data-metric="learn/loss"') :]
    assert tracked.id in chart[: chart.index("</figure>")]  # a line per run, named by run
    assert again.id in chart[: chart.index("</figure>")]
    assert 'data-row="learn/accuracy"' in html  # final values


def test_compare_shows_the_code_diff_between_runs(records: Records) -> None:
    from sqlalchemy import update

    from dagwell.core.records import CodeSnapshot
    from dagwell.storage.metadata.tables import runs
    from dagwell.storage.shared import artifact_store, metadata_store
    from dagwell.tracking.code import save_code

    base = records.runs["basic"]
    code = dw.get_run(base.id, settings=records.settings).code
    assert code is not None and code.entry is not None
    changed = dict(code.files)
    changed[code.entry] += "\n# a change <b>made later</b>\n"
    other = dw.run(flows.basic, executor="inline", settings=records.settings)
    store = artifact_store(records.settings.artifacts_url, records.settings)
    digest = save_code(store, CodeSnapshot(changed, code.git, code.entry, root=code.root))
    with metadata_store(records.settings.db_url).transaction() as tx:
        tx.execute(update(runs).where(runs.c.id == other.id).values(code_hash=digest))
    html = ok(records.client, f"/compare?run={base.id}&run={other.id}")
    assert f'<span class="mono">{code.entry}</span> <span class="badge">modified</span>' in html
    assert '<span class="add">+# a change &lt;b&gt;made later&lt;/b&gt;</span>' in html


def test_compare_asks_for_runs_when_fewer_than_two(records: Records) -> None:
    html = ok(records.client, "/compare")
    assert '<form class="stack card" method="get" action="/compare">' in html
    one = records.client.get(f"/compare?run={records.runs['basic'].id}")
    assert one.status_code == 422 and "pick at least two runs" in one.text
    same = records.client.get(
        f"/compare?run={records.runs['basic'].id}&run={records.runs['basic'].id[:8]}"
    )
    assert same.status_code == 422 and "given twice" in same.text


def test_compare_with_an_unknown_run_is_a_404_page(records: Records) -> None:
    answer = records.client.get(f"/compare?run={records.runs['basic'].id}&run=nosuchrun")
    assert answer.status_code == 404
    assert "nosuchrun" in answer.text and "<!doctype html>" in answer.text


def _row(html: str, marker: str) -> str:
    start = html.index(marker)
    start = html.rindex("<tr", 0, start)
    return html[start : html.index("</tr>", start)]


# -- lineage --------------------------------------------------------------------------------


def test_lineage_of_a_model_draws_the_way_back_to_its_dataset(records: Records) -> None:
    run = records.runs["model"]
    html = ok(records.client, "/lineage?ref=" + quote("model:row_model@1"))
    assert 'class="dw-picture dw-dag"' in html
    for node in (
        "model row_model v1",
        "dataset rows.csv @",
        f"summarize · run {run.id[:6]}",
        f"count_rows · run {run.id[:6]}",
        "artifact ",
    ):
        assert f'data-node="{node}' in html, node
    assert 'data-state="succeeded"' in html  # tasks coloured by state
    assert 'data-state="record"' in html and ">dataset, artifact or model<" in html
    assert ">pending<" not in html  # records are not tasks waiting to run
    assert f'href="/runs/{run.id}?node=summarize"' in html
    assert 'href="/models/row_model"' in html
    assert 'href="/datasets?uri=' in html


def test_lineage_downstream_from_a_dataset_reaches_the_model(records: Records) -> None:
    data = records.folder / "rows.csv"
    html = ok(records.client, f"/lineage?ref={quote(str(data))}&direction=downstream")
    assert 'data-node="model row_model v1"' in html
    assert '<option value="downstream" selected>' in html


def test_lineage_node_panel_links_to_its_pages(records: Records) -> None:
    run = records.runs["model"]
    url = "/lineage/node?" + "&".join(
        f"{k}={quote(v)}"
        for k, v in {"kind": "task", "ref": f"{run.id}:summarize", "label": "x"}.items()
    )
    panel = ok(records.client, url, headers=HX)
    assert "<!doctype html>" not in panel
    assert f'href="/runs/{run.id}?node=summarize"' in panel
    assert "explore downstream" in panel
    assert "<!doctype html>" in ok(records.client, url)


def test_lineage_without_a_ref_offers_places_to_start(records: Records) -> None:
    html = ok(records.client, "/lineage")
    assert "model row_model v1" in html
    assert str(records.folder / "rows.csv") in html


def test_lineage_of_something_unknown_says_so(records: Records) -> None:
    answer = records.client.get("/lineage?ref=model:nosuchmodel@1")
    assert answer.status_code == 404
    assert "nosuchmodel" in answer.text and 'name="ref"' in answer.text


def test_a_path_with_a_nul_byte_is_refused_not_a_server_error(records: Records) -> None:
    """A NUL byte typed into a dataset path or a ref: the page says why, no 500."""
    for url in ("/datasets?uri=a%00b", "/lineage?ref=a%00b", "/api/v1/lineage?ref=a%00b"):
        answer = records.client.get(url)
        assert answer.status_code == 422, url
        assert "NUL byte" in answer.text, url


# -- datasets, models, alerts -----------------------------------------------------------------


def test_datasets_page_lists_versions_and_the_runs_that_read_them(records: Records) -> None:
    run = records.runs["model"]
    html = ok(records.client, "/datasets")
    data = str(records.folder / "rows.csv")
    assert f'data-uri="{data}"' in html
    assert f'href="/runs/{run.id}?node=count_rows"' in html
    only = ok(records.client, "/datasets?uri=" + quote(data))
    assert f'data-uri="{data}"' in only


def test_models_page_and_a_model_with_its_versions(records: Records) -> None:
    run = records.runs["model"]
    assert 'href="/models/row_model"' in ok(records.client, "/models")
    html = ok(records.client, "/models/row_model")
    assert 'data-version="1"' in html
    assert f'href="/runs/{run.id}"' in html
    assert 'href="/runs/' in html and "summarize" in html
    assert 'class="inline card set-alias"' in html  # open mode: an admin


def test_setting_an_alias_from_the_form_moves_it(records: Records) -> None:
    answer = records.client.post(
        "/models/row_model/aliases", data={"alias": "production", "version": "1"}
    )
    assert answer.status_code == 200  # after the redirect
    assert "production → v1" in answer.text
    assert dw.models.get("row_model", alias="production", settings=records.settings).version == 1
    bad = records.client.post("/models/row_model/aliases", data={"alias": "1", "version": "1"})
    assert bad.status_code == 422 and "alias" in bad.text
    nope = records.client.post("/models/row_model/aliases", data={"alias": "x", "version": "9"})
    assert nope.status_code == 404


def test_a_viewer_gets_no_alias_form(records: Records) -> None:
    viewer = TestClient(pages_app(records.settings, principal=Principal("vi", Role.VIEWER)))
    assert "set-alias" not in ok(viewer, "/models/row_model")


def test_alerts_page_lists_alerts_and_filters_them(records: Records) -> None:
    run = records.runs["alerting"]
    dw.list_alerts(run_id=run.id, settings=records.settings)  # recorded by now
    html = ok(records.client, "/alerts")
    assert f'href="/runs/{run.id}"' in html
    assert "failure" in html and "retry" in html
    assert re.search(r"disk full", html)
    only = ok(records.client, "/alerts?kind=retry")
    table = only[only.index('<table class="alerts">') :]
    assert ">retry<" in table and ">failure<" not in table
    assert "No alerts match" in ok(records.client, "/alerts?pipeline=nosuchpipeline")
    run_page = ok(records.client, f"/runs/{run.id}")
    assert "disk full" in run_page[run_page.index('id="run-alerts"') :]
