"""The README documents every console setting, and the vendored htmx is the version the pages load."""

from __future__ import annotations

from pathlib import Path

import pytest

from admin.console import HTMX_VERSION, STATIC
from admin.settings import ConsoleSettings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


@pytest.mark.parametrize("field", list(ConsoleSettings.model_fields))
def test_every_console_setting_is_in_the_readme(field):
    assert f"| `console.{field}` |" in README


def test_vendored_htmx_is_recorded_and_served_locally():
    assert (STATIC / "vendor" / f"htmx-{HTMX_VERSION}.min.js").is_file()
    assert f"htmx-{HTMX_VERSION}.min.js" in (STATIC / "vendor" / "README.md").read_text()
    assert "cdn" not in (ROOT / "templates" / "base.html").read_text().lower()
