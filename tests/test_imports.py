"""Imports of expander's and train's modules (issue 29).

No import cycle, counting imports inside functions: a cycle makes import order matter and hides which module
owns what. Imports for type checking only are not counted (they never run).

An import inside a function is there only to keep start-up fast, and says so: a ``# lazy:`` comment with what it
saves, on its line or above its group of imports. The rule: an import stays lazy when it costs 5 ms or more (with
the importing module already loaded) on a path that does not otherwise need it (a CLI's --help, ``import
expander``, a command that never reaches it); anything cheaper is imported at the top.
"""

from __future__ import annotations

import ast

from conftest import REPO


def _modules() -> dict[str, ast.Module]:
    found = {}
    for package in ("expander", "train"):
        for path in (REPO / package).rglob("*.py"):
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = ast.parse(path.read_text(encoding="utf-8"))
    return found


def _runtime_imports(tree: ast.Module, modules: set[str]) -> set[str]:
    """The package modules ``tree`` imports when it runs (at the top or in a function)."""
    checking_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                     and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}  # fmt: skip
    imported = set()
    for node in ast.walk(tree):
        if id(node) in checking_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                imported.add(submodule if submodule in modules else node.module)
        elif isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
    return imported & modules


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in graph[module]:
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    return found


def test_no_module_imports_itself_through_others() -> None:
    modules = _modules()
    graph = {name: _runtime_imports(tree, set(modules)) - {name} for name, tree in modules.items()}
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _unexplained_lazy_imports(source: str) -> list[int]:
    """Lines of imports inside functions with no ``# lazy:`` reason on their line or above their group."""
    lines = source.splitlines()

    def explained(node: ast.stmt) -> bool:
        return "# lazy:" in lines[node.lineno - 1] or lines[node.lineno - 2].strip().startswith("# lazy:")

    missing: set[int] = set()
    for function in ast.walk(ast.parse(source)):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        bodies = [
            getattr(node, field, None) for node in ast.walk(function) for field in ("body", "orelse", "finalbody")
        ]
        for body in (b for b in bodies if isinstance(b, list)):
            group: list[ast.stmt] = []  # imports on adjoining lines: one comment above them covers them all
            for statement in [*body, None]:
                is_import = isinstance(statement, (ast.Import, ast.ImportFrom))
                if is_import and group and statement.lineno == (group[-1].end_lineno or 0) + 1:
                    group.append(statement)
                    continue
                if group and not explained(group[0]):
                    missing |= {node.lineno for node in group if not explained(node)}
                group = [statement] if is_import else []
    return sorted(missing)


def test_every_import_inside_a_function_says_why_it_is_lazy() -> None:
    unexplained = {
        str(path.relative_to(REPO)): lines
        for package in ("expander", "train")
        for path in sorted((REPO / package).rglob("*.py"))
        if (lines := _unexplained_lazy_imports(path.read_text(encoding="utf-8")))
    }
    assert unexplained == {}


def test_the_lazy_import_check_finds_an_unexplained_one() -> None:
    source = (
        "def f():\n"
        "    # lazy: numpy costs 40 ms\n"
        "    import numpy\n"
        "    import cv2\n"
        "\n"
        "    import json\n"
        "    import yaml  # lazy: PyYAML costs 9 ms\n"
        "    if True:\n"
        "        import PIL\n"
    )
    assert _unexplained_lazy_imports(source) == [6, 9]
