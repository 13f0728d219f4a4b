"""OpenLineage export: START, COMPLETE and FAIL events for each run and task run.

Configured with ``DAGWELL_OPENLINEAGE`` (a JSON-lines file path, or an ``http(s)://`` URL of
a lineage server such as Marquez). Events are built and sent with the official
``openlineage-python`` client (the ``lineage`` extra) from a background thread, so a slow
or dead server never holds up a run; a failed send is logged, never raised.
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from dagwell.core.states import RunState, TaskState
from dagwell.errors import DagwellError
from dagwell.execution.hooks import Hooks

log = logging.getLogger(__name__)

NAMESPACE = "dagwell"
PRODUCER = "https://pypi.org/project/dagwell/"
_DONE = {TaskState.SUCCEEDED, TaskState.CACHED, TaskState.REUSED}
_ENDED_BADLY = {TaskState.FAILED, TaskState.UPSTREAM_FAILED, TaskState.CANCELLED}


def make_client(target: str) -> Any:
    """An OpenLineage client writing JSON lines to ``target``, or posting to it if a URL."""
    try:
        from openlineage.client import OpenLineageClient
        from openlineage.client.transport.file import FileConfig, FileTransport
        from openlineage.client.transport.http import HttpConfig, HttpTransport
    except ImportError:
        raise DagwellError(
            "DAGWELL_OPENLINEAGE is set but the OpenLineage client is not installed: "
            "pip install 'dagwell[lineage]'"
        ) from None
    if target.startswith(("http://", "https://")):
        return OpenLineageClient(transport=HttpTransport(HttpConfig(url=target)))
    return OpenLineageClient(transport=FileTransport(FileConfig(log_file_path=target, append=True)))


def run_uuid(run_id: str, node: str | None = None) -> str:
    """A stable UUID for a dagwell run (or one of its task runs), as OpenLineage wants."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"dagwell:{run_id}:{node or ''}"))


class OpenLineageHooks(Hooks):
    """Turns run and task events into OpenLineage events, sent from a background thread.

    ``datasets`` maps each node to the dataset URIs it reads (its input datasets); each
    task run's output dataset is named after its run and node in the artifact store.

    >>> hooks = OpenLineageHooks("events.jsonl", datasets={"ingest": ["/data/churn.csv"]},
    ...                          artifacts_url=".dagwell/artifacts")
    """

    def __init__(
        self,
        target: str,
        *,
        datasets: Mapping[str, Sequence[str]],
        artifacts_url: str,
        client: Any = None,
    ) -> None:
        self.client = client or make_client(target)
        self.datasets = datasets
        self.artifacts_url = artifacts_url
        self.pipeline = ""
        self.started: set[str] = set()
        self.outbox: queue.Queue[Any] = queue.Queue()
        self.sender = threading.Thread(target=self._send, name="dagwell-openlineage", daemon=True)
        self.sender.start()

    def run_started(self, *, run_id: str, pipeline: str, nodes: Sequence[str]) -> None:
        self.pipeline = pipeline
        self._event("START", run_id, None)

    def task_changed(
        self,
        *,
        run_id: str,
        node: str,
        status: TaskState,
        attempt: int,
        error: str | None = None,
    ) -> None:
        # A cached or reused node never ran: it still gets its START before COMPLETE.
        if (status is TaskState.RUNNING or status in _DONE) and node not in self.started:
            self.started.add(node)
            self._event("START", run_id, node)
        if status in _DONE:
            self._event("COMPLETE", run_id, node)
        elif status in _ENDED_BADLY and node in self.started:
            self._event("FAIL", run_id, node, error)

    def run_finished(self, *, run_id: str, status: RunState, error: str | None = None) -> None:
        self._event("COMPLETE" if status is RunState.SUCCEEDED else "FAIL", run_id, None, error)
        self.abandon()

    def abandon(self) -> None:
        """Send what is queued and stop (also when another process took the run over: its
        new runner sends the run's end)."""
        self.outbox.put(None)
        self.sender.join(timeout=10)

    def _event(self, kind: str, run_id: str, node: str | None, error: str | None = None) -> None:
        from openlineage.client.event_v2 import (
            InputDataset,
            Job,
            OutputDataset,
            Run,
            RunEvent,
            RunState,
        )
        from openlineage.client.facet_v2 import error_message_run, parent_run

        facets: dict[str, Any] = {}
        if node is not None:
            facets["parent"] = parent_run.ParentRunFacet(
                run=parent_run.Run(runId=run_uuid(run_id)),
                job=parent_run.Job(namespace=NAMESPACE, name=self.pipeline),
            )
        if error and kind == "FAIL":
            facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
                message=error, programmingLanguage="python"
            )
        inputs = [
            InputDataset(namespace="file", name=uri) for uri in self.datasets.get(node or "", ())
        ]
        outputs = []
        if node is not None and kind == "COMPLETE":
            outputs.append(OutputDataset(namespace=self.artifacts_url, name=f"{run_id}/{node}"))
        self.outbox.put(
            RunEvent(
                eventType=getattr(RunState, kind),
                eventTime=datetime.now(timezone.utc).isoformat(),
                run=Run(runId=run_uuid(run_id, node), facets=facets),
                job=Job(
                    namespace=NAMESPACE, name=f"{self.pipeline}.{node}" if node else self.pipeline
                ),
                inputs=inputs,
                outputs=outputs,
                producer=PRODUCER,
            )
        )

    def _send(self) -> None:
        while (event := self.outbox.get()) is not None:
            try:
                self.client.emit(event)
            except Exception as exc:  # a lineage server being down must not fail the run
                log.warning("could not send an OpenLineage event: %s", exc)
