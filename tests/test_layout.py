"""The package's layout keeps its promises: layers, no import circle, sizes, names.

Read from the source (AST), so a change that breaks the layering fails here
before anyone has to notice it in a review.
"""

from __future__ import annotations

import ast
from pathlib import Path
import re

import pytest

COMPONENT = Path(__file__).parent.parent / "custom_components" / "tesla_scout_worker"
PACKAGE = "custom_components.tesla_scout_worker"
MAX_LINES = 400
LONG_ON_PURPOSE = "Long on purpose:"
"""How a module's docstring says why it is longer than ``MAX_LINES``."""


def _modules() -> dict[str, tuple[Path, bool]]:
    """Every module of the integration: dotted name → (file, is a package)."""
    modules = {}
    for path in COMPONENT.rglob("*.py"):
        parts = path.relative_to(COMPONENT).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        modules[".".join((PACKAGE, *parts))] = (path, is_package)
    return modules


def _imports(name: str, path: Path, is_package: bool, known: set[str]) -> set[str]:
    """The integration's modules that ``name`` imports, TYPE_CHECKING ones included."""
    base = name.split(".") if is_package else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            target = ".".join(
                base[: len(base) - (node.level - 1)]
                + ([node.module] if node.module else [])
            )
            candidates = [target, *(f"{target}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.ImportFrom) and node.module:
            candidates = [node.module]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        found.update(c for c in candidates if c in known and c != name)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {
        name: _imports(name, path, is_package, known)
        for name, (path, is_package) in modules.items()
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_no_import_circle() -> None:
    """Not even under ``TYPE_CHECKING``: a newcomer reads the package top-down."""
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


@pytest.mark.parametrize(
    ("layer", "may_import"),
    [("fleet", ("fleet",)), ("domain", ("domain", "fleet"))],
)
def test_the_lower_layers_never_import_the_home_assistant_layer(
    layer: str, may_import: tuple[str, ...]
) -> None:
    """``fleet/`` stands alone; ``domain/`` stands on ``fleet/``; neither looks up."""
    allowed = tuple(f"{PACKAGE}.{name}" for name in may_import)
    graph = _graph()
    wrong = {
        name: sorted(d for d in deps if not d.startswith(allowed))
        for name, deps in graph.items()
        if name.startswith(f"{PACKAGE}.{layer}")
    }
    assert {name: deps for name, deps in wrong.items() if deps} == {}


@pytest.mark.parametrize("package", ["domain", "fleet"])
def test_each_lower_layer_says_who_may_import_it(package: str) -> None:
    """The first line of its docstring names what it is and who may import it."""
    init = COMPONENT / package / "__init__.py"
    docstring = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
    assert docstring is not None
    first = docstring.splitlines()[0]
    assert "Home Assistant" in first
    assert "import" in first


def test_no_module_is_long_without_saying_why() -> None:
    """Over ``MAX_LINES``, the module's docstring says why it stays one module."""
    long_silent = {}
    for name, (path, _) in _modules().items():
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        docstring = ast.get_docstring(ast.parse(text)) or ""
        if lines > MAX_LINES and LONG_ON_PURPOSE not in docstring:
            long_silent[name] = lines
    assert long_silent == {}


def test_docstrings_name_only_files_that_exist() -> None:
    """A module named in a docstring or a comment is there to be read."""
    named = re.compile(r"``([\w/]+\.py)``")
    missing = []
    for path in COMPONENT.rglob("*.py"):
        for match in named.finditer(path.read_text(encoding="utf-8")):
            relative = match.group(1)
            if not any(
                (where / relative).is_file()
                for where in (path.parent, COMPONENT, COMPONENT.parent.parent)
            ):
                missing.append(f"{path.relative_to(COMPONENT)}: {relative}")
    assert missing == []


def test_the_readme_names_each_concern_s_module_and_it_exists() -> None:
    """The README's "One place for each thing" table points at real modules."""
    readme = (COMPONENT.parent.parent / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("One place for each thing:") :]
    rows = [line for line in table.splitlines() if line.startswith("| ")][2:]
    concerns = {
        "a token is refreshed",
        "a car is woken",
        "a car's state changes",
        "a car's settings are kept",
        "a worker run is decided",
        "the tariff is assembled",
        "a repair issue is raised",
        "a user's command is sent, its error translated",
    }
    named = {row.split("|")[1].strip(): row.split("|")[2] for row in rows}
    assert concerns <= set(named)
    for concern, where in named.items():
        modules = re.findall(r"`([\w/]+\.py)`", where)
        assert modules, concern
        assert all((COMPONENT / module).is_file() for module in modules), concern
