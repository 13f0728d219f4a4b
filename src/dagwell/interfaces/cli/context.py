"""What every CLI command shares: the settings built from global flags and environment."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from rich.console import Console

from dagwell.settings import Settings


@dataclass
class CliContext:
    """Global options of the ``dagwell`` command, turned into settings on first use."""

    home: str | None = None
    db_url: str | None = None
    artifacts: str | None = None

    @cached_property
    def settings(self) -> Settings:
        """Settings: flags first, then ``DAGWELL_*`` variables, then defaults."""
        return Settings.from_env(home=self.home, db_url=self.db_url, artifacts_url=self.artifacts)

    @cached_property
    def console(self) -> Console:
        """Where human-readable output goes."""
        return Console(highlight=False)
