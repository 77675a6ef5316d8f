"""The shape of the code: data flows one way through the stage packages.

Every import of every module is read with `ast` (imports inside functions and under
TYPE_CHECKING included: they are dependencies all the same) and checked against the rules
of the README's architecture section.
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Lower first: a package may import only itself and the packages before it.
LAYERS: tuple[str, ...] = (
    "core",
    "storage",
    "tagging",
    "ingest",
    "digests",
    "delivery",
    "handlers",
    "bot",
)
# Packages outside the layers that must keep to themselves.
TOOLS: tuple[str, ...] = ("bench",)
# Test support shared by tests/ and bench/ (fakes of Telegram, article builders): it may
# import the product it fakes things for, but not tests/ or bench/; the product never
# imports it.
TEST_SUPPORT: tuple[str, ...] = ("testing",)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> Iterator[tuple[str, tuple[str, ...], int]]:
    """(absolute module, names taken from it, line) for each import in the file; a plain
    `import a.b` has no names."""
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path.parent)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, (), node.lineno
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, module] if module else base)
            yield module, tuple(alias.name for alias in node.names), node.lineno


def _edges(path: Path, modules: Collection[str]) -> dict[str, int]:
    """The modules of ours that the file imports. `from tagging import data` depends on the
    module `tagging.data`, not on the package `tagging` and its __init__."""
    own = _module_name(path)
    edges: dict[str, int] = {}
    for module, names, line in _imports(path):
        submodules = [f"{module}.{name}" for name in names if f"{module}.{name}" in modules]
        targets = submodules if submodules and len(submodules) == len(names) else [module]
        if submodules and len(submodules) < len(names):
            targets = [module, *submodules]
        for target in targets:
            if target in modules and target != own:
                edges.setdefault(target, line)
    return edges


def _sources(*packages: str) -> list[Path]:
    return sorted(
        path
        for package in packages
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
    )


def _graph() -> dict[str, dict[str, int]]:
    """Module → the modules of ours it imports (with the line of the first import)."""
    paths = _sources(*LAYERS)
    modules = {_module_name(path): path for path in paths}
    return {name: _edges(path, modules) for name, path in modules.items()}


def _cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _layer(module: str) -> int:
    return LAYERS.index(module.split(".")[0])


def test_the_checker_sees_every_package_and_its_imports() -> None:
    graph = _graph()
    assert {module.split(".")[0] for module in graph} == set(LAYERS)
    # Spot checks that the reader follows plain, from-, package and lazy imports.
    assert "storage.models" in graph["storage.chats"]
    assert "digests.model" in graph["digests.select"]
    assert "delivery.planner" in graph["delivery.daily"]
    assert "handlers.middlewares" in graph["bot.app"]


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_no_import_cycles() -> None:
    assert _cycles(_graph()) == []


def test_no_stage_imports_a_later_stage() -> None:
    upward = [
        f"{module} imports {target} (line {line})"
        for module, edges in _graph().items()
        for target, line in edges.items()
        if _layer(target) > _layer(module)
    ]
    assert upward == []


@pytest.mark.parametrize("package", [*LAYERS[:-1], *TOOLS])
def test_nothing_outside_bot_imports_it(package: str) -> None:
    offending = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in _sources(package)
        for module, _names, line in _imports(path)
        if module == "bot" or module.startswith("bot.")
    ]
    if package in TOOLS:
        # Benchmarks drive the real bot through its app factory, the composition root, and
        # serve the demo's feeds.
        allowed = (" imports bot.app", " imports bot.demo_runner")
        offending = [entry for entry in offending if not entry.endswith(allowed)]
    assert offending == []


def _imports_of(package: str, target: str) -> list[str]:
    """Every import of `target` (or a module in it) by a module of `package`."""
    return [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in _sources(package)
        for module, _names, line in _imports(path)
        if module == target or module.startswith(f"{target}.")
    ]


@pytest.mark.parametrize("package", [*LAYERS, *TOOLS, *TEST_SUPPORT])
def test_nothing_but_the_tests_imports_the_tests(package: str) -> None:
    assert _imports_of(package, "tests") == []


@pytest.mark.parametrize("package", LAYERS)
def test_the_product_does_not_import_the_test_support(package: str) -> None:
    assert [entry for support in TEST_SUPPORT for entry in _imports_of(package, support)] == []


@pytest.mark.parametrize("package", [*LAYERS, *TEST_SUPPORT])
def test_nothing_imports_the_benchmarks(package: str) -> None:
    assert [entry for tool in TOOLS for entry in _imports_of(package, tool)] == []


def test_the_import_rules_see_the_test_support() -> None:
    assert _sources(*TEST_SUPPORT)
    assert _imports_of("bench", "testing") != []
