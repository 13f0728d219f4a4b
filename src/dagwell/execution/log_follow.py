"""Following a node's log while it runs: what each attempt prints, as it prints it.

``dagwell logs RUN NODE --follow`` and the API's ``GET /runs/{id}/logs/{node}?follow=true``
read from here. Every ``poll`` seconds what was added is read from wherever the attempt
writes it (:func:`~dagwell.execution.attempt.read_log_bytes`: the worker's scratch file
while it runs, the kept log once it ended; inside the logs folder only), so every executor
can be followed. While an attempt runs only whole lines are passed on (so a character is
never cut in two); the rest follows when the attempt ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dagwell.core.states import AttemptState
from dagwell.errors import NotFoundError

if TYPE_CHECKING:
    from dagwell.settings import Settings

POLL_SECONDS = 0.5
"""How often a followed log is read again."""


@dataclass(frozen=True)
class LogChunk:
    """New output of attempt ``attempt``; ``ended`` on the last chunk of an attempt that
    has ended (its ``status`` then says how).

    >>> LogChunk(1, "epoch 3 loss=0.41\\n")
    """

    attempt: int
    text: str
    ended: bool = False
    status: AttemptState = AttemptState.RUNNING


def follow_log(
    run_id: str,
    node: str,
    *,
    settings: Settings,
    attempt: int | None = None,
    poll: float = POLL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[LogChunk]:
    """What ``node`` of run ``run_id`` prints, attempt after attempt (retries included), as
    it is written, until the node or the run has finished; with ``attempt``, only that one.

    Waits for a node that has not started yet. An unknown run or node, or an ``attempt``
    the node ended without, is a :class:`NotFoundError`.

    >>> for chunk in follow_log("3f2a", "train", settings=settings):
    ...     print(chunk.text, end="")
    """
    from dagwell.execution.attempt import read_log_bytes
    from dagwell.execution.runs import get_run

    sent: dict[int, int] = {}  # bytes passed on, per attempt
    done: set[int] = set()  # attempts passed on to their end
    while True:
        found = get_run(run_id, settings=settings)
        task = found.tasks.get(node)
        if task is None:
            raise NotFoundError(
                f"run {found.id} has no node {node!r}; its nodes are: {', '.join(found.tasks)}"
            )
        over = found.status.is_finished or task.status.is_finished
        for tried in task.attempts:
            if tried.number in done or (attempt is not None and tried.number != attempt):
                continue
            ended = tried.status is not AttemptState.RUNNING or over
            start = sent.get(tried.number, 0)
            new = read_log_bytes(found.id, node, tried, settings, offset=start, guarded=True)
            new = new or b""
            if not ended:
                new = new[: new.rfind(b"\n") + 1]  # whole lines only
            if new or ended:
                sent[tried.number] = start + len(new)
                yield LogChunk(tried.number, new.decode(errors="replace"), ended, tried.status)
            if ended:
                done.add(tried.number)
        if attempt is not None and attempt in done:
            return
        if over:
            if attempt is not None:
                raise NotFoundError(
                    f"node {node!r} of run {found.id} ended without an attempt {attempt}; "
                    f"its attempts are 1 to {len(task.attempts)}"
                )
            return
        sleep(poll)


def marked(chunks: Iterable[LogChunk], *, prefix: str = "") -> Iterator[tuple[str, bool]]:
    """The text to show for followed ``chunks``, as (text, is a marker line): a line
    ``== {prefix}attempt N ==`` before each attempt and ``== attempt N STATUS ==`` after it.

    >>> [text for text, _ in marked([LogChunk(1, "hi", True, AttemptState.SUCCEEDED)])]
    ['== attempt 1 ==\\n', 'hi', '\\n', '== attempt 1 succeeded ==\\n']
    """
    started: set[int] = set()
    for chunk in chunks:
        if chunk.attempt not in started:
            started.add(chunk.attempt)
            yield f"== {prefix}attempt {chunk.attempt} ==\n", True
        if chunk.text:
            yield chunk.text, False
        if chunk.ended:
            if chunk.text and not chunk.text.endswith("\n"):
                yield "\n", False
            yield f"== attempt {chunk.attempt} {chunk.status.value} ==\n", True
