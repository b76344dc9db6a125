"""The layers of docs/architecture (/work/shared/design/architecture.md) hold: core is below
the API, so nothing in core imports api (the admin command once did, for passwords)."""

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


def test_every_package_of_the_service_is_installed_with_its_templates() -> None:
    """`pip install .` (the image) ships every package the service imports, and the templates
    and static files of each package that serves pages."""
    import tomllib

    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    dev_only = {"tests", "bench", ".venv", "build"}
    packages = {str(p.parent.relative_to(ROOT)).replace("/", ".")
                for p in ROOT.rglob("__init__.py")
                if p.relative_to(ROOT).parts[0] not in dev_only}
    assert packages == set(setup["packages"])
    for package in packages:
        folder = ROOT / package.replace(".", "/")
        for data in ("templates", "static"):
            if (folder / data).is_dir():
                globs = setup["package-data"].get(package, [])
                files = {f for f in (folder / data).rglob("*") if f.is_file()}
                shipped = {f for pattern in globs for f in folder.glob(pattern)}
                assert files <= shipped, (package, sorted(str(f) for f in files - shipped))
