"""The package layout: every folder ships, and the headless path never loads Textual."""

from __future__ import annotations

import ast
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
        "cronsole.tui.service.headless, cronsole.tui.cli; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual',)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_console_and_the_cli_load_pillow_only_to_write_an_image() -> None:
    """Pillow costs tens of milliseconds to import: the first frame does not need it."""
    code = (
        "import sys; import cronsole.tui.console.app, cronsole.tui.cli.app; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'PIL'))"
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


def _core_imports(path: Path) -> list[str]:
    """The cronsole.core modules a file imports, as written."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
    return [name for name in found if name.startswith("cronsole.core")]


def test_built_in_jobs_and_examples_import_only_the_public_job_api() -> None:
    files = [*(ROOT / "jobs").rglob("*.py"), *(ROOT / "examples").rglob("*.py")]
    reaching = {
        str(f.relative_to(ROOT)): bad
        for f in files
        if (bad := [m for m in _core_imports(f) if m != "cronsole.core"])
    }
    assert reaching == {}, "import these from cronsole.core (add them to its __all__)"


def test_the_import_contract_forbids_every_core_module() -> None:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    [contract] = [c for c in contracts["contracts"] if c["source_modules"] == ["cronsole.jobs"]]
    modules = {
        f"cronsole.core.{p.stem if p.suffix else p.name}"
        for p in (ROOT / "core").iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()
    }
    assert set(contract["forbidden_modules"]) == modules


def test_the_public_job_api_names_what_it_exports() -> None:
    import cronsole.core

    assert sorted(cronsole.core.__all__) == sorted(set(cronsole.core.__all__))
    missing = [n for n in cronsole.core.__all__ if not hasattr(cronsole.core, n)]
    assert missing == []
