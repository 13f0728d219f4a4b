"""The files under interfaces/web/static: htmx as published, and nothing else to run."""

from __future__ import annotations

import hashlib
import re
from importlib.resources import files

STATIC = files("dagwell.interfaces.web") / "static"


def test_htmx_is_the_published_file_vendored_md_names() -> None:
    vendored = (STATIC / "VENDORED.md").read_text()
    named = re.search(r"sha256 of `htmx.min.js` \| `([0-9a-f]{64})`", vendored)
    assert named is not None
    assert hashlib.sha256((STATIC / "htmx.min.js").read_bytes()).hexdigest() == named.group(1)
    version = re.search(r"\| Version \| ([\d.]+) \|", vendored)
    assert version is not None
    assert f'version:"{version.group(1)}"' in (STATIC / "htmx.min.js").read_text()
    assert "Zero-Clause BSD" in (STATIC / "htmx.LICENSE").read_text()


def test_htmx_is_the_only_script() -> None:
    scripts = sorted(p.name for p in STATIC.iterdir() if p.name.endswith((".js", ".mjs")))
    assert scripts == ["htmx.min.js"]


def test_the_stylesheet_loads_nothing_from_elsewhere() -> None:
    css = (STATIC / "dagwell.css").read_text()
    assert "@import" not in css
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", css)
