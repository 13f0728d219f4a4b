"""The public API is exactly what ``__all__`` lists, in ``dagwell`` and in ``dagwell.testing``.

As in httpx's test of the same name: a name the package exposes without listing it would be
public by accident, and a listed name that does not exist would break ``import *``.
"""

from __future__ import annotations

import importlib
import types

import pytest

import dagwell
import dagwell.testing


def _is_submodule(name: str, value: object, package: str) -> bool:
    """A subpackage bound under its own name; a module re-exported as a namespace under
    another name (``dw.notify``) is API like any other name."""
    return isinstance(value, types.ModuleType) and value.__name__ == f"{package}.{name}"


def test_every_public_attribute_of_dagwell_is_in_all() -> None:
    """Submodules (``dagwell.core`` …) are attributes once imported, but not API."""
    # Importing every layer first makes the check independent of test order.
    for name in ("execution.runs", "interfaces.cli.main", "storage.artifacts", "testing"):
        importlib.import_module(f"dagwell.{name}")

    exposed = {
        name
        for name, value in vars(dagwell).items()
        if not name.startswith("_") and not _is_submodule(name, value, "dagwell")
    }

    assert exposed == set(dagwell.__all__)


def test_every_public_name_defined_in_dagwell_testing_is_in_all() -> None:
    """Helpers a module only imports (``Settings``, ``tempfile`` …) are not its API."""
    defined = {
        name
        for name, value in vars(dagwell.testing).items()
        if not name.startswith("_") and getattr(value, "__module__", None) == "dagwell.testing"
    }

    assert defined == set(dagwell.testing.__all__)


@pytest.mark.parametrize("module", [dagwell, dagwell.testing], ids=lambda m: m.__name__)
def test_all_is_sorted_without_duplicates_and_every_name_exists(
    module: types.ModuleType,
) -> None:
    exported: list[str] = list(module.__all__)

    assert exported == sorted(set(exported))
    assert [name for name in exported if not hasattr(module, name)] == []
