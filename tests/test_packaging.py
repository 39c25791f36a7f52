"""The package layout: every folder ships, and the headless path never loads Textual."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_listed_in_pyproject() -> None:
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        "cronsole." + ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("core", "jobs", "tui")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert found == listed


def test_engine_and_headless_cli_do_not_import_textual() -> None:
    code = (
        "import sys; import cronsole.core.scheduling.host, cronsole.core.commands, "
        "cronsole.tui.headless, cronsole.tui.cli; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual',)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_core_does_not_import_typer_or_rich() -> None:
    code = (
        "import sys; import cronsole.core.scheduling.host, cronsole.core.commands; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'typer', 'rich', 'textual'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
