"""Dependencies point one way: heatmaps → reports → boundaries → geo_portal. Every
import statement of the project's code is read (ast, including imports inside
functions) and none may point against that order."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# package → the project's packages it must never import
FORBIDDEN = {
    "boundaries": {"reports", "heatmaps", "ogcapi"},
    "reports": {"heatmaps", "ogcapi"},
    "heatmaps": {"ogcapi"},
    "geo_portal": {"boundaries", "reports", "heatmaps", "ogcapi"},
}


def imported_modules(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def violations(package):
    out = []
    for path in sorted((ROOT / package).rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for lineno, module in imported_modules(path):
            if module.split(".")[0] in FORBIDDEN[package]:
                out.append(f"{rel}:{lineno} imports {module}")
    return out


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_import_points_against_the_dependency_order(package):
    assert violations(package) == []


def test_the_scan_sees_imports_inside_functions(tmp_path):
    # The checker itself: a function-level import is found.
    f = tmp_path / "m.py"
    f.write_text("def f():\n    from reports.intake import claim_reports\n    import heatmaps.tiles\n")
    assert [m for _n, m in imported_modules(f)] == ["reports.intake", "heatmaps.tiles"]
