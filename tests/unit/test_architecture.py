"""The stages depend one way: core ← contract ← synthetic / intake / validation ← statistics ← release ← cli.
Every import in ``pipelines/`` counts, lazy ones inside functions and ``TYPE_CHECKING`` blocks included: no stage
imports a later one, and no modules or stages import each other in a circle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "pipelines"
#: a stage may import stages of a lower or equal rank (equal: siblings, as long as no circle forms)
RANKS = {
    "core": 0,
    "contract": 1,
    "synthetic": 2,
    "intake": 2,
    "validation": 2,
    "statistics": 3,
    "release": 4,
    "cli": 5,
}
MAX_LINES = 400


def module_name(path: Path, package: Path = PACKAGE) -> str:
    """``pipelines/intake/ingest.py`` → ``pipelines.intake.ingest``; a package's ``__init__`` is the package."""
    parts = [package.name, *path.relative_to(package).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, importer: str, known: set[str]) -> set[str]:
    """Every module of ours a source imports, wherever the import stands (top level, function, TYPE_CHECKING)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the importer's package
                parent = importer.split(".")[: -node.level] if importer in known else importer.split(".")
                base = ".".join([*parent, base] if base else parent)
            # ``from pipelines.synthetic import faults`` imports the module pipelines.synthetic.faults
            found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names}
    return {name for name in found if name.split(".")[0] == "pipelines"}


def import_edges(package: Path = PACKAGE) -> set[tuple[str, str]]:
    """(importer, imported) for every import between our modules."""
    files = {module_name(p, package): p for p in sorted(package.rglob("*.py"))}
    known = set(files)
    return {
        (importer, imported)
        for importer, path in files.items()
        for imported in imported_modules(path.read_text(encoding="utf-8"), importer, known)
        if imported != importer
    }


def stage_of(module: str) -> str:
    """The stage a module belongs to; the package root (its version) counts as core."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in RANKS else "core"


def dependency_problems(edges: set[tuple[str, str]]) -> list[str]:
    """Backward imports (a stage importing a later one) and circles, among modules or among stages."""
    problems = [
        f"backward import: {a} ({stage_of(a)}) imports {b} ({stage_of(b)})"
        for a, b in sorted(edges)
        if RANKS[stage_of(b)] > RANKS[stage_of(a)]
    ]
    stage_edges = {(stage_of(a), stage_of(b)) for a, b in edges if stage_of(a) != stage_of(b)}
    problems += [f"import circle among stages: {' → '.join(c)}" for c in _circles(stage_edges)]
    problems += [f"import circle among modules: {' → '.join(c)}" for c in _circles(edges)]
    return problems


def _circles(edges: set[tuple[str, str]]) -> list[list[str]]:
    """One circle through each strongly connected group of more than one node (depth-first search)."""
    graph: dict[str, list[str]] = {}
    for a, b in sorted(edges):
        graph.setdefault(a, []).append(b)
    circles, done = [], set()
    for start in sorted(graph):
        path, on_path = [start], {start}
        stack = [iter(graph.get(start, []))]
        while stack:
            following = next(stack[-1], None)
            if following is None:
                stack.pop()
                done.add(on_path_node := path.pop())
                on_path.discard(on_path_node)
            elif following in on_path:
                circle = [*path[path.index(following) :], following]
                if not any(set(circle) <= set(c) for c in circles):
                    circles.append(circle)
            elif following not in done:
                path.append(following)
                on_path.add(following)
                stack.append(iter(graph.get(following, [])))
    return circles


# --- the tree as it is ---------------------------------------------------------------------------------------


def test_the_stages_depend_one_way():
    edges = import_edges()
    assert len(edges) > 50  # the scan found the imports (a broken scan would pass vacuously)
    assert dependency_problems(edges) == []


def test_every_stage_is_a_package_that_says_what_enters_and_leaves():
    for stage in RANKS:
        doc = ast.get_docstring(ast.parse((PACKAGE / stage / "__init__.py").read_text(encoding="utf-8")))
        assert doc and "In:" in doc and "Out:" in doc and "Public face:" in doc, stage
    loose = sorted(p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    assert loose == [], f"modules outside a stage: {loose}"


def test_no_module_is_long():
    long = {
        module_name(p): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def test_no_stage_imports_airflow():
    for path in PACKAGE.rglob("*.py"):
        names = imported_modules_any(path.read_text(encoding="utf-8"))
        assert not any(name.split(".")[0] == "airflow" for name in names), path


def imported_modules_any(source: str) -> set[str]:
    """Every absolute module name a source imports."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module)
    return found


# --- the check can fail ------------------------------------------------------------------------------------


def test_a_backward_import_is_found():
    edges = import_edges() | {("pipelines.core.config", "pipelines.statistics.disclosure")}  # as it once was
    problems = dependency_problems(edges)
    assert problems[0] == (
        "backward import: pipelines.core.config (core) imports pipelines.statistics.disclosure (statistics)"
    )
    assert any(p.startswith("import circle among stages: core → ") for p in problems)
    assert any(p.startswith("import circle among modules: pipelines.core.config → ") for p in problems)


def test_a_circle_between_siblings_is_found():
    edges = {
        ("pipelines.intake.ingest", "pipelines.validation.validate"),
        ("pipelines.validation.validate", "pipelines.intake.ledger"),
        ("pipelines.intake.ledger", "pipelines.core.config"),
    }
    assert dependency_problems(edges) == ["import circle among stages: intake → validation → intake"]


def test_a_module_circle_inside_a_stage_is_found():
    edges = {("pipelines.statistics.marts", "pipelines.statistics.disclosure")}
    assert dependency_problems(edges) == []
    edges.add(("pipelines.statistics.disclosure", "pipelines.statistics.marts"))
    assert dependency_problems(edges) == [
        "import circle among modules: pipelines.statistics.disclosure → pipelines.statistics.marts → "
        "pipelines.statistics.disclosure"
    ]


@pytest.mark.parametrize(
    "source",
    [
        "def f():\n    from pipelines.release.publish import publish_months\n",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pipelines.release import publish\n",
        "import pipelines.release.publish\n",
        "from ..release import publish\n",
    ],
)
def test_lazy_and_relative_imports_count(source: str):
    known = {"pipelines.release.publish", "pipelines.statistics.marts", "pipelines.release"}
    imported = imported_modules(source, "pipelines.statistics.marts", known)
    assert imported == {"pipelines.release.publish"}
    edges = {("pipelines.statistics.marts", name) for name in imported}
    assert dependency_problems(edges) == [
        "backward import: pipelines.statistics.marts (statistics) imports pipelines.release.publish (release)"
    ]
