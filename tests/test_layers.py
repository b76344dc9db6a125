"""The layers of docs/architecture (/work/shared/design/architecture.md) hold: core is below
the API, so nothing in core imports api (issue 17: the admin command once did, for passwords)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_nothing_in_core_imports_the_api() -> None:
    offenders = {str(path.relative_to(ROOT)): sorted(m for m in imported_modules(path)
                                                      if m == "api" or m.startswith("api."))
                 for path in sorted((ROOT / "core").rglob("*.py"))}
    assert {path: mods for path, mods in offenders.items() if mods} == {}
