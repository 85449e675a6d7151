"""Dependencies point one way: heatmaps → reports → boundaries → geo_portal, and the
outer apps (ogcapi, open311, alerts, agencies) → reports → boundaries → geo_portal. Every
import statement of the project's code is read (ast, including imports inside
functions) and none may point against that order."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# package → the project's packages it must never import
# The outer apps (ogcapi, open311, alerts, agencies) build on reports and boundaries; no
# lower layer imports them, nor one of them another (agencies hears of report events
# through reports.notify's hooks, registered in its AppConfig.ready()).
OUTER = {"ogcapi", "open311", "alerts", "agencies"}
FORBIDDEN = {
    "boundaries": {"reports", "heatmaps"} | OUTER,
    "reports": {"heatmaps"} | OUTER,
    "heatmaps": OUTER,
    "geo_portal": {"boundaries", "reports", "heatmaps"} | OUTER,
    **{app: (OUTER - {app}) | {"heatmaps"} for app in OUTER},
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


# --- signal handlers are wired in AppConfig.ready() only ------------------------------


def module_level_connects(path):
    """Lines of ``something.connect(…)`` / ``@receiver`` at a module's top level (run at
    import time, whoever imports it first) instead of inside a function."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = []
    for node in tree.body:  # top-level statements only
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            out += [d.lineno for d in node.decorator_list if "receiver" in ast.unparse(d)]
            continue
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute) and sub.func.attr == "connect" \
                    and "psycopg" not in ast.unparse(sub.func.value):
                out.append(sub.lineno)
    return out


APPS = ("geo_portal", "boundaries", "reports", "heatmaps", "ogcapi", "open311", "agencies", "alerts")


@pytest.mark.parametrize("package", APPS)
def test_signal_handlers_are_connected_in_app_ready_only(package):
    found = [f"{p.relative_to(ROOT).as_posix()}:{line}" for p in sorted((ROOT / package).rglob("*.py"))
             if "migrations" not in p.parts for line in module_level_connects(p)]
    assert found == []


def test_the_connect_scan_sees_a_module_level_connect(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("from django.db.models.signals import post_save\n\ndef h(**kw):\n    pass\n\n"
                 "post_save.connect(h)\n\ndef ready():\n    post_save.connect(h)\n")
    assert module_level_connects(f) == [6]
