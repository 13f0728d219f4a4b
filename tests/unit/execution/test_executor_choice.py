"""Choosing an executor: names, the optional Dask extra, and where its address comes from."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

import dagwell as dw
from dagwell.errors import DefinitionError
from dagwell.execution.executors import make_executor
from dagwell.interfaces.cli.main import cli


def test_without_the_dask_extra_the_dask_executor_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for module in ("dask", "distributed"):
        monkeypatch.setitem(sys.modules, module, None)  # makes `import dask` fail
    monkeypatch.delitem(sys.modules, "dagwell.execution.executors.dask", raising=False)

    with pytest.raises(DefinitionError, match=r"pip install 'dagwell\[dask\]'"):
        make_executor("dask", 2)


def test_importing_dagwell_does_not_import_dask() -> None:
    code = (
        "import sys, dagwell\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'dask', 'distributed'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert done.stdout.strip() == "[]"


def test_the_dask_address_comes_from_the_environment() -> None:
    settings = dw.Settings.from_env({"DAGWELL_DASK_ADDRESS": "tcp://10.0.0.5:8786"})

    assert settings.dask_address == "tcp://10.0.0.5:8786"
    assert dw.Settings.from_env({}).dask_address is None


@pytest.mark.parametrize("command", ["run", "resume", "rerun", "scheduler"])
def test_commands_that_run_pipelines_offer_the_dask_executor(command: str) -> None:
    shown = CliRunner().invoke(cli, [command, "--help"])

    assert shown.exit_code == 0, shown.output
    assert "dask" in shown.output
    assert "--dask-address" in shown.output
