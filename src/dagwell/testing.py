"""Helpers to test your pipelines the way dagwell's own tests do.

Everything here is public (listed in ``__all__``). Records go to a throwaway folder rather
than to the project's ``.dagwell``, and ``DAGWELL_*`` environment variables are ignored, so
a test never writes into a real database. :func:`run_inline` runs in the test's process.

>>> from dagwell.testing import run_inline
>>> run = run_inline(churn, {"folds": 2})
>>> run.status == "succeeded", run.result()
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagwell.execution.runs import run
from dagwell.settings import Settings
from dagwell.storage.shared import metadata_store

if TYPE_CHECKING:
    import os

    from dagwell.core.pipeline import Pipeline
    from dagwell.core.records import Run

__all__ = ["run_inline", "temporary_settings"]


def run_inline(
    pipeline: Pipeline,
    params: Mapping[str, Any] | None = None,
    *,
    home: str | os.PathLike[str] | None = None,
) -> Run:
    """Run ``pipeline`` with the inline executor and return the recorded :class:`~dagwell.Run`.

    Tasks run one at a time in this process, so breakpoints, ``pytest --pdb`` and
    monkeypatching reach them. The database, artifacts and logs go to ``home``; when it is
    left out, to a new folder made by :func:`tempfile.mkdtemp`, which is kept so that
    ``run.output()`` and ``run.result()`` can still load from it. A failed task does not
    raise: check ``run.status``, and ``run.tasks[node].error``.

    Parameters:
        pipeline: a pipeline made with ``@dw.pipeline``.
        params: the pipeline's params; the others keep their defaults.
        home: the folder for the run's records (pytest's ``tmp_path`` is a good choice).

    >>> def test_churn_picks_a_model(tmp_path):
    ...     run = run_inline(churn, {"folds": 2}, home=tmp_path)
    ...     assert run.status == "succeeded"
    ...     assert run.output("split", "test") != []
    """
    folder = tempfile.mkdtemp(prefix="dagwell-test-") if home is None else home
    settings = Settings.from_env({}, home=folder)
    return run(pipeline, params, executor="inline", workers=1, settings=settings)


@contextmanager
def temporary_settings() -> Iterator[Settings]:
    """:class:`~dagwell.Settings` rooted in a new temporary folder, removed on leaving.

    Use it to run with another executor, or to call ``dw.get_run`` and ``dw.list_runs``,
    without touching the project's records. Load what you need from a run inside the block:
    its artifacts go with the folder.

    >>> with temporary_settings() as settings:
    ...     run = dw.run(churn, executor="process", workers=2, settings=settings)
    ...     assert dw.list_runs(settings=settings)[0].id == run.id
    """
    folder = Path(tempfile.mkdtemp(prefix="dagwell-test-"))
    settings = Settings.from_env({}, home=folder)
    try:
        yield settings
    finally:
        # Close pooled connections first, so nothing holds the database open once it is gone.
        metadata_store(settings.db_url).dispose()
        # A leftover temporary folder harms nobody; failing the test over one would.
        shutil.rmtree(folder, ignore_errors=True)
