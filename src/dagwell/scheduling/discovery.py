"""Finding pipelines in files and folders, in a subprocess, one verdict per file.

A broken file (a syntax error, a failing import, a ``sys.exit``, a cycle in its graph) is
reported on its own and never stops the others or the daemon: files are imported in a child
process (``python -m dagwell.scheduling.discovery FILE...``) that prints one JSON line per
file, so even a file that kills its interpreter only costs its own verdict.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dagwell.errors import DefinitionError

VERDICT = "dagwell-verdict "
"""The prefix of the child's answer lines, so output of the files' own never passes for one."""

LOAD_TIMEOUT = 120.0
"""Seconds the pipeline files together may take to import before they count as broken."""


@dataclass
class Discovery:
    """What a scan found: pipeline descriptions by name, and load errors by file."""

    pipelines: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def pipeline_files(paths: Iterable[str | Path]) -> list[str]:
    """The ``.py`` files named by ``paths`` (folders are searched recursively), sorted.

    >>> pipeline_files(["pipelines/"])
    ['/srv/pipelines/churn.py', '/srv/pipelines/nightly.py']
    """
    found: set[str] = set()
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found.update(
                str(p.resolve())
                for p in path.rglob("*.py")
                if not any(part.startswith((".", "__")) for part in p.relative_to(path).parts)
            )
        elif path.is_file():
            found.add(str(path.resolve()))
        else:
            raise DefinitionError(f"no such pipeline file or folder: {str(path)!r}")
    return sorted(found)


def discover(files: Sequence[str], *, timeout: float = LOAD_TIMEOUT) -> Discovery:
    """Import ``files`` in a child process and describe the pipelines they define.

    >>> found = discover(pipeline_files(["pipelines/"]))
    >>> sorted(found.pipelines), found.errors
    """
    result = Discovery()
    remaining = list(files)
    while remaining:
        verdicts, failure = _scan(remaining, timeout)
        for verdict in verdicts:
            if "error" in verdict:
                result.errors[verdict["file"]] = verdict["error"]
            for described in verdict.get("pipelines", []):
                _add(result, verdict["file"], described)
        done = {v["file"] for v in verdicts}
        remaining = [f for f in remaining if f not in done]
        if remaining and failure:
            # The child died (or hung) inside the first file it did not answer for.
            result.errors[remaining[0]] = failure
            remaining = remaining[1:]
    return result


def _add(result: Discovery, file: str, described: dict[str, Any]) -> None:
    name = described["name"]
    other = result.pipelines.get(name)
    if other is not None:
        first = other["source"].rpartition(":")[0]
        result.errors[file] = (
            f"{file}: pipeline name {name!r} is already defined in {first}; pipeline names "
            "must be unique across the scheduler's files"
        )
        return
    result.pipelines[name] = described


def _scan(files: Sequence[str], timeout: float) -> tuple[list[dict[str, Any]], str | None]:
    try:
        done = subprocess.run(
            [sys.executable, "-m", "dagwell.scheduling.discovery", *files],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            check=False,
        )
        stdout, code = done.stdout, done.returncode
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout
        stdout = out.decode() if isinstance(out, bytes) else (out or "")
        code = None
    verdicts = [
        json.loads(line[len(VERDICT) :]) for line in stdout.splitlines() if line.startswith(VERDICT)
    ]
    if code is None:
        return verdicts, f"importing the file took longer than {timeout:g} s"
    if code != 0:
        return verdicts, f"importing the file killed the Python process (exit code {code})"
    if len(verdicts) < len(files):  # exit code 0 all the same: os._exit(0) in the file
        return verdicts, "importing the file ended the Python process (exit code 0)"
    return verdicts, None


def describe_file(file: str) -> dict[str, Any]:
    """Import ``file`` and describe its pipelines (the child process's work)."""
    from dagwell.errors import DagwellError
    from dagwell.execution.loader import load_module, pipelines_in

    try:
        module = load_module(Path(file))
        return {
            "file": file,
            "pipelines": [describe_pipeline(file, p) for p in pipelines_in(module).values()],
        }
    except DagwellError as exc:
        return {"file": file, "error": str(exc)}
    except BaseException as exc:  # SystemExit from a pipeline body, anything user code raises
        return {"file": file, "error": f"{file}: {type(exc).__name__}: {exc}"}


def describe_pipeline(file: str, pipeline: Any) -> dict[str, Any]:
    """What the daemon registers of ``pipeline`` (defined in ``file``), as JSON; building
    its graph first, so a cycle is found now."""
    from dagwell.core.pipeline import Pipeline, to_text
    from dagwell.errors import DefinitionError

    assert isinstance(pipeline, Pipeline)
    schedule = pipeline.schedule
    if schedule is not None or not any(p.required for p in pipeline.params):
        try:  # a graph that cannot be built (a cycle) is a broken file, found now
            pipeline.build(schedule.params if schedule is not None else {})
        except DefinitionError as exc:
            raise DefinitionError(f"{file}: pipeline {pipeline.name!r}: {exc}") from None

    def text(value: Any) -> Any:
        return json.loads(json.dumps(value, default=to_text))

    return {
        "name": pipeline.name,
        "source": f"{file}:{pipeline.name}",
        "description": pipeline.description,
        "params": [
            {
                "name": p.name,
                "type": getattr(p.kind, "__name__", None) if p.kind is not None else None,
                "default": None if p.required else text(p.default),
                "required": p.required,
            }
            for p in pipeline.params
        ],
        "max_active_runs": pipeline.max_active_runs,
        "schedule": schedule.text if schedule is not None else None,
        "timezone": schedule.timezone if schedule is not None else None,
        "start_at": schedule.start.isoformat() if schedule and schedule.start else None,
        "catchup": bool(schedule and schedule.catchup),
        "schedule_params": text(dict(schedule.params)) if schedule is not None else {},
    }


def main(files: Sequence[str]) -> None:
    """Print one JSON line per file, flushed, so a crash in file N keeps files before it."""
    import contextlib

    out = sys.stdout
    for file in files:
        with contextlib.redirect_stdout(sys.stderr):  # the files' own prints stay out
            verdict = describe_file(file)
        print(VERDICT + json.dumps(verdict), file=out, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
