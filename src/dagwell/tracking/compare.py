"""Comparing runs: their params, metrics, code and environment, as data to render.

Pure functions over recorded :class:`~dagwell.core.records.Run` values. The only reads are
those of ``run.code`` (the snapshots, from the artifact store): one per distinct snapshot,
since equal hashes mean equal code. The command line and the web UI render what these
return.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dagwell.core.records import CodeSnapshot, Run
from dagwell.errors import DefinitionError


class _Missing:
    """The value of a row in a run that has none (a param it did not have, say)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""Stands in a :class:`Row` for a value a run does not have."""

SECTIONS = ("params", "task params", "metrics", "code", "environment")
"""The sections of a :class:`Comparison`, in the order they are shown."""


@dataclass(frozen=True)
class Row:
    """One compared quantity: its value in each run, in the runs' order.

    ``values`` holds :data:`MISSING` for a run that does not have it.

    >>> row = Row("params", "C", (0.5, 1.0))
    >>> row.differs
    True
    """

    section: str
    name: str
    values: tuple[Any, ...]

    @property
    def differs(self) -> bool:
        """Whether the runs do not all have the same value (a missing one counts)."""
        return len({_key(value) for value in self.values}) > 1

    def to_dict(self, run_ids: Sequence[str]) -> dict[str, Any]:
        """``{"name", "values": {run id: value}, "differs"}``; missing values are left out."""
        return {
            "name": self.name,
            "values": {
                run_id: value
                for run_id, value in zip(run_ids, self.values, strict=True)
                if value is not MISSING
            },
            "differs": self.differs,
        }


@dataclass(frozen=True)
class Comparison:
    """Runs side by side: one :class:`Row` per param, metric, code and environment fact.

    >>> comparison = compare_runs([dw.get_run("3f2a"), dw.get_run("9c1b")])
    >>> [row.name for row in comparison.differences()]
    ['C', 'fit/accuracy', 'snapshot', 'changed files']
    """

    run_ids: tuple[str, ...]
    rows: tuple[Row, ...]

    def section(self, name: str) -> list[Row]:
        """The rows of one section (see :data:`SECTIONS`), in order."""
        return [row for row in self.rows if row.section == name]

    def differences(self) -> list[Row]:
        """The rows whose values are not all equal."""
        return [row for row in self.rows if row.differs]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict: ``{"runs": [...], "params": [row, ...], "metrics": ..., ...}``."""
        data: dict[str, Any] = {"runs": list(self.run_ids)}
        for section in SECTIONS:
            data[section.replace(" ", "_")] = [
                row.to_dict(self.run_ids) for row in self.section(section)
            ]
        return data


@dataclass(frozen=True)
class FileChange:
    """A code file that differs between two runs, with its unified diff."""

    path: str
    change: str  # "added", "removed" or "modified"
    diff: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {"path": self.path, "change": self.change, "diff": self.diff}


@dataclass(frozen=True)
class RunDiff:
    """What changed from run ``old`` to run ``new``: params and code files.

    ``params`` holds only the rows that differ (pipeline params, then task params).
    ``code_missing`` names the runs that were recorded without a code snapshot.

    >>> changes = diff_runs(dw.get_run("3f2a"), dw.get_run("9c1b"))
    >>> [(f.path, f.change) for f in changes.files]
    [('helpers.py', 'modified')]
    """

    old: str
    new: str
    params: tuple[Row, ...]
    files: tuple[FileChange, ...]
    same_code: bool
    code_missing: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        ids = (self.old, self.new)
        return {
            "old": self.old,
            "new": self.new,
            "params": [row.to_dict(ids) for row in self.params],
            "same_code": self.same_code,
            "code_missing": list(self.code_missing),
            "files": [change.to_dict() for change in self.files],
        }


def compare_runs(runs: Sequence[Run]) -> Comparison:
    """Compare two or more runs side by side.

    Params are the pipeline's and those tasks logged (``node/name``); metrics are the last
    value of each ``node/name``; code is the snapshot hash, the git commit and dirty flag,
    and which files differ from the first run's; environment is Python, platform, and the
    packages whose versions are not the same in every run.

    >>> comparison = compare_runs([run_a, run_b])
    >>> comparison.section("metrics")[0].values
    (0.91, 0.93)
    """
    _check_distinct(runs)
    rows = [
        *_rows("params", [dict(run.params) for run in runs]),
        *_rows("task params", [_task_params(run) for run in runs]),
        *_rows("metrics", [_last_metrics(run) for run in runs]),
        *_code_rows(runs),
        *_environment_rows(runs),
    ]
    return Comparison(tuple(run.id for run in runs), tuple(rows))


def diff_runs(old: Run, new: Run) -> RunDiff:
    """The params and code files that changed from run ``old`` to run ``new``.

    Each changed file comes with a unified diff (``difflib.unified_diff``), labelled
    ``RUN/path``.

    >>> for change in diff_runs(run_a, run_b).files:
    ...     print(change.diff)
    """
    params = [
        row
        for row in (
            *_rows("params", [dict(old.params), dict(new.params)]),
            *_rows("task params", [_task_params(old), _task_params(new)]),
        )
        if row.differs
    ]
    missing = tuple(run.id for run in (old, new) if run.code_hash is None)
    same = not missing and old.code_hash == new.code_hash
    files: list[FileChange] = []
    if not missing and not same:
        assert old.code is not None and new.code is not None  # they have hashes
        files = file_changes(old.code, new.code, old_label=old.id, new_label=new.id)
    return RunDiff(old.id, new.id, tuple(params), tuple(files), same, missing)


def file_changes(
    old: CodeSnapshot, new: CodeSnapshot, *, old_label: str = "old", new_label: str = "new"
) -> list[FileChange]:
    """The files added, removed or modified from snapshot ``old`` to ``new``, by path.

    >>> [c.change for c in file_changes(snapshot_a, snapshot_b)]
    ['modified']
    """
    changes = []
    for path in sorted(set(old.files) | set(new.files)):
        before, after = old.files.get(path), new.files.get(path)
        if before == after:
            continue
        change = "added" if before is None else "removed" if after is None else "modified"
        lines = difflib.unified_diff(
            _lines(before or ""),
            _lines(after or ""),
            fromfile=f"{old_label}/{path}" if before is not None else "/dev/null",
            tofile=f"{new_label}/{path}" if after is not None else "/dev/null",
        )
        changes.append(FileChange(path, change, "".join(lines)))
    return changes


def _lines(text: str) -> list[str]:
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"  # else the diff would glue it to the next line it prints
    return lines


def _check_distinct(runs: Sequence[Run]) -> None:
    if len(runs) < 2:
        raise DefinitionError(f"comparing needs at least two runs, got {len(runs)}")
    seen: set[str] = set()
    for run in runs:
        if run.id in seen:
            raise DefinitionError(f"run {run.id} is given twice; compare different runs")
        seen.add(run.id)


def _rows(section: str, per_run: Sequence[Mapping[str, Any]]) -> list[Row]:
    names = dict.fromkeys(name for values in per_run for name in values)
    return [
        Row(section, name, tuple(values.get(name, MISSING) for values in per_run)) for name in names
    ]


def _task_params(run: Run) -> dict[str, Any]:
    return {
        f"{task.node}/{name}": value
        for task in run.tasks.values()
        for name, value in task.params.items()
    }


def _last_metrics(run: Run) -> dict[str, float]:
    last: dict[str, float] = {}
    for point in run.metrics():
        last[f"{point.node}/{point.name}"] = point.value
    return last


def _code_rows(runs: Sequence[Run]) -> list[Row]:
    hashes = tuple(run.code_hash if run.code_hash is not None else MISSING for run in runs)
    rows = [Row("code", "snapshot", hashes)]
    if all(value is MISSING for value in hashes):
        return rows
    loaded = _snapshots(runs)
    gits = [code.git if code is not None else None for code in loaded]
    for name, key in (("git commit", "commit"), ("git dirty", "dirty")):
        rows.append(
            Row(
                "code",
                name,
                tuple(git.get(key) if git is not None else MISSING for git in gits),
            )
        )
    base = loaded[0]
    changed: list[Any] = []
    for code in loaded:
        if code is None or base is None:
            changed.append(MISSING)
        else:
            changed.append(tuple(change.path for change in file_changes(base, code)))
    rows.append(Row("code", "changed files", tuple(changed)))
    return rows


def _snapshots(runs: Sequence[Run]) -> list[CodeSnapshot | None]:
    by_hash: dict[str, CodeSnapshot | None] = {}  # equal hashes, equal code: read once
    for run in runs:
        if run.code_hash is not None and run.code_hash not in by_hash:
            by_hash[run.code_hash] = run.code
    return [by_hash[run.code_hash] if run.code_hash is not None else None for run in runs]


def _environment_rows(runs: Sequence[Run]) -> list[Row]:
    environments = [run.environment for run in runs]
    rows = [
        Row(
            "environment",
            key,
            tuple(env.get(key, MISSING) if env is not None else MISSING for env in environments),
        )
        for key in ("python", "implementation", "platform")
    ]
    packages = [
        dict(env.get("packages") or {}) if env is not None else None for env in environments
    ]
    if all(found is None for found in packages):
        return rows
    names = sorted({name for found in packages if found for name in found})
    for name in names:
        row = Row(
            "environment",
            f"packages/{name}",
            tuple(found.get(name, MISSING) if found is not None else MISSING for found in packages),
        )
        if row.differs:
            rows.append(row)
    return rows


def _key(value: Any) -> str:
    """A comparable form of a row value: JSON text, so 1 and True, or 1 and 1.0, differ."""
    if value is MISSING:
        return "\0missing"
    return json.dumps(value, sort_keys=True, default=repr)
