"""Environment capture: Python, platform and installed packages with their versions."""

from __future__ import annotations

import importlib.metadata
import platform
from pathlib import Path

from dagwell.tracking.environment import capture_environment, installed_packages, normalize_name


def test_the_environment_names_python_the_platform_and_the_installed_packages() -> None:
    env = capture_environment()

    assert env["python"] == platform.python_version()
    assert env["implementation"] == platform.python_implementation()
    assert env["platform"].startswith(f"{platform.system()}-{platform.release()}")
    assert env["packages"]["sqlalchemy"] == importlib.metadata.version("sqlalchemy")
    assert env["packages"]["dagwell"] == importlib.metadata.version("dagwell")


def test_packages_match_what_importlib_metadata_reports() -> None:
    """The folder names are read instead of each METADATA file; the answer must not change."""
    expected: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        expected.setdefault(normalize_name(dist.metadata["Name"]), dist.version)

    assert installed_packages() == dict(sorted(expected.items()))


def test_names_are_normalized_and_the_first_on_the_path_wins(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    (first / "Typing_Extensions-4.9.0.dist-info").mkdir(parents=True)
    (first / "zope.interface-6.1.dist-info").mkdir()
    (second / "typing_extensions-4.0.0.dist-info").mkdir(parents=True)
    (second / "not_a_package").mkdir()

    found = installed_packages([str(first), str(second), str(tmp_path / "missing")])

    assert found == {"typing-extensions": "4.9.0", "zope-interface": "6.1"}


def test_an_egg_info_without_a_version_in_its_name_is_read_from_its_metadata(
    tmp_path: Path,
) -> None:
    egg = tmp_path / "my_project.egg-info"
    egg.mkdir()
    (egg / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: my-project\nVersion: 0.3.1\n\n")
    (tmp_path / "old_style-1.2-py3.11.egg-info").write_text("Name: old-style\nVersion: 1.2\n")
    (tmp_path / "broken.egg-info").mkdir()

    assert installed_packages([str(tmp_path)]) == {"my-project": "0.3.1", "old-style": "1.2"}
