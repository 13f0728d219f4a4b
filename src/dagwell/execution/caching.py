"""Explaining and clearing the cache of ``@dw.task(cache=True)`` calls: ``dw.why``,
``dw.clear_cache``. The runner looks calls up; this module answers questions about them.
"""

from __future__ import annotations

from dagwell.core.states import TaskState
from dagwell.execution.runs import get_run
from dagwell.settings import Settings
from dagwell.storage.shared import metadata_store


def why(run_id: str, node: str, *, settings: Settings | None = None) -> list[str]:
    """Why ``node`` of run ``run_id`` ran or was taken from the cache, in sentences.

    >>> dw.why("3f2a", "features")
    ["helper 'features.clean' changed since run 9b1c..."]
    """
    from dagwell.errors import NotFoundError
    from dagwell.tracking.cache_keys import CacheKey, explain_miss

    settings = settings or Settings.from_env()
    found = get_run(run_id, settings=settings)
    if node not in found.tasks:
        raise NotFoundError(
            f"run {found.id} has no node {node!r}; its nodes are: {', '.join(found.tasks)}"
        )
    task = found.tasks[node]
    store = metadata_store(settings.db_url)
    key, parts, cached_from = store.cache_entry(found.id, node)
    if task.status == TaskState.CACHED:
        return [f"cache hit: took the outputs of run {cached_from} (same code, inputs and args)"]
    if key is None:
        if task.status == TaskState.REUSED:
            return [f"reused from run {found.parent_run_id}, which this run resumed"]
        return [f"node {node!r} ran: its task is not cached, or caching was off for the run"]
    previous = store.previous_cache_entry(task.task, node, found.id)
    if previous is None:
        return [f"cache miss: task {task.task!r} never ran with a cache key before this run"]
    changes = explain_miss(CacheKey.from_json(previous.parts), CacheKey.from_json(parts))
    since = f" since run {previous.run_id}"
    if not changes:
        return [
            f"cache miss: the same key as run {previous.run_id}, whose node "
            f"ended {previous.status} (only successes are reused)"
        ]
    return [f"cache miss: {change}{since}" for change in changes]


def clear_cache(task: str | None = None, *, settings: Settings | None = None) -> int:
    """Forget cached calls (of ``task`` only, if given); returns how many were forgotten.

    >>> dw.clear_cache("features")
    3
    """
    settings = settings or Settings.from_env()
    return metadata_store(settings.db_url).clear_cache(task)
