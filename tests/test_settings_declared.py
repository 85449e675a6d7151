"""Every setting the code reads is declared in geo_portal/settings.py (or is one of
Django's own, with Django's default), read as ``settings.X``: never with a default of its
own (``getattr(settings, "X", default)``) and never from the environment outside
settings.py. One default, in one place (the README's configuration table lists the
environment variables).

Every import of the project's code is read with ast (tests, benchmarks and migrations
left out), so a new ``settings.SOMETHING`` without a declaration fails here."""

import ast
from pathlib import Path

import pytest
from django.conf import global_settings

ROOT = Path(__file__).resolve().parent.parent
SETTINGS_FILE = ROOT / "geo_portal" / "settings.py"
SKIP_DIRS = {".venv", "node_modules", "tests", "bench", "migrations", "var", ".git"}
# The only environment reads allowed outside settings.py: which settings module to load.
ALLOWED_ENV = {"DJANGO_SETTINGS_MODULE"}


def project_files():
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if SKIP_DIRS & set(rel.parts[:-1]) or path == SETTINGS_FILE:
            continue
        yield path


def declared_in_settings():
    tree = ast.parse(SETTINGS_FILE.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, ast.AnnAssign | ast.AugAssign) else []
        for t in targets:
            for n in ast.walk(t):
                if isinstance(n, ast.Name) and n.id.isupper():
                    names.add(n.id)
    return names


def reads(path):
    """(line, kind, name) of every settings read and environment read in one file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "settings" \
                and node.attr.isupper():
            yield node.lineno, "read", node.attr
        elif isinstance(node, ast.Call):
            f = node.func
            args = node.args
            if isinstance(f, ast.Name) and f.id == "getattr" and args and isinstance(args[0], ast.Name) \
                    and args[0].id == "settings":
                if len(args) > 1 and isinstance(args[1], ast.Constant):  # (a computed name: conf() below)
                    yield node.lineno, "getattr-default" if len(args) > 2 else "read", args[1].value
            # heatmaps' conf("HEATMAP_…") reads a setting by name
            elif isinstance(f, ast.Name) and f.id == "conf" and args and isinstance(args[0], ast.Constant):
                yield node.lineno, "read", args[0].value
            # os.environ.get("X") / os.environ.setdefault("X") / os.getenv("X")
            elif isinstance(f, ast.Attribute) and args and isinstance(args[0], ast.Constant) and (
                    (f.attr in ("get", "setdefault", "pop") and ast.unparse(f.value) == "os.environ")
                    or ast.unparse(f) == "os.getenv"):
                yield node.lineno, "environ", args[0].value
        elif isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
            yield node.lineno, "environ", ast.unparse(node.slice)


def test_every_setting_read_is_declared_once_and_read_without_a_default():
    declared = declared_in_settings()
    problems = []
    for path in project_files():
        rel = path.relative_to(ROOT).as_posix()
        for line, kind, name in reads(path):
            if kind == "getattr-default":
                problems.append(f"{rel}:{line} getattr(settings, {name!r}, default): read settings.{name}")
            elif kind == "environ" and name not in ALLOWED_ENV:
                problems.append(f"{rel}:{line} reads the environment ({name}): declare it in settings.py")
            elif kind == "read" and name not in declared and not hasattr(global_settings, name):
                problems.append(f"{rel}:{line} settings.{name} is not declared in geo_portal/settings.py")
    assert problems == []


@pytest.mark.parametrize("source, expected", [
    ('from django.conf import settings\nx = getattr(settings, "FOO", 3)\n', [(2, "getattr-default", "FOO")]),
    ("import os\nx = os.environ.get('BAR', '')\n", [(2, "environ", "BAR")]),
    ("import os\nx = os.environ['BAZ']\n", [(2, "environ", "'BAZ'")]),
    ("from django.conf import settings\nx = settings.QUX\n", [(2, "read", "QUX")]),
])
def test_the_scan_sees_each_kind_of_read(tmp_path, source, expected):
    f = tmp_path / "m.py"
    f.write_text(source)
    assert list(reads(f)) == expected
