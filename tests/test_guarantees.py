"""The README's Guarantees section and the scenario markers stay true to each other."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# RELIABILITY.md's catalogue (B1 and B3 are not in it).
SCENARIOS = (
    [f"L{n}" for n in range(1, 9)]
    + [f"F{n}" for n in range(1, 15)]
    + ["B2", "B4", "B5", "B6", "B7", "B8", "B9"]
    + [f"S{n}" for n in range(1, 10)]
)


def marked() -> dict[str, list[str]]:
    """Scenario id → tests carrying @pytest.mark.scenario(id)."""
    found: dict[str, list[str]] = defaultdict(list)
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for deco in node.decorator_list:
                if (
                    isinstance(deco, ast.Call)
                    and ast.unparse(deco.func).endswith("mark.scenario")
                    and isinstance(deco.args[0], ast.Constant)
                ):
                    found[str(deco.args[0].value)].append(
                        f"{path.relative_to(ROOT).as_posix()}::{node.name}"
                    )
    return found


def guarantees() -> str:
    text = (ROOT / "README.md").read_text()
    return text[text.index("## Guarantees") : text.index("\n## ", text.index("## Guarantees"))]


def test_every_scenario_has_a_marked_test_and_no_marker_is_unknown() -> None:
    found = marked()
    assert [s for s in SCENARIOS if not found.get(s)] == []
    assert sorted(set(found) - set(SCENARIOS)) == []


def test_every_test_the_readme_names_exists() -> None:
    named = re.findall(r"`(tests/[\w/]+\.py)(?:::(\w+))?`", guarantees())
    assert len(named) > 20
    for path, function in named:
        source = (ROOT / path).read_text()
        assert not function or re.search(rf"^(async )?def {function}\(", source, re.M), (
            f"{path}::{function} is named in the README but does not exist"
        )


def test_the_readme_maps_every_scenario() -> None:
    section = guarantees()
    missing = [s for s in SCENARIOS if not re.search(rf"\b{s}\b", section)]
    assert missing == []
