"""The import contract of the tree (architecture.md, "Layers"): goturn and glore never import
each other; common imports neither; bench is imported by nothing; a model's data/ imports
nothing of its training, tracking or inference halves; and no command-line module (one with a
``__main__`` block) is imported by another module of the package. Read statically from the
source, function-level imports included."""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("common", "goturn", "glore", "bench")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(tree: ast.AST, known: set[str]) -> set[str]:
    """Every project module an ``import``/``from ... import`` names (``from pkg import mod``
    counts as importing pkg.mod when that is a module)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name in known}


def is_command_line(tree: ast.AST) -> bool:
    return any(
        isinstance(node, ast.If)
        and isinstance(node.test, ast.Compare)
        and isinstance(node.test.left, ast.Name)
        and node.test.left.id == "__name__"
        for node in tree.body
    )


def project_graph():
    sources = {module_name(p): p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py")}
    trees = {name: ast.parse(path.read_text()) for name, path in sources.items()}
    known = set(sources)
    imports = {name: imported_modules(tree, known) for name, tree in trees.items()}
    commands = {name for name, tree in trees.items() if is_command_line(tree)}
    return imports, commands


def violations(imports: dict[str, set[str]], commands: set[str]) -> list[str]:
    found = []
    for module, targets in sorted(imports.items()):
        top = module.split(".")[0]
        for target in sorted(targets):
            other = target.split(".")[0]
            if {top, other} == {"goturn", "glore"}:
                found.append(f"{module} imports {target}: the two models never import each other")
            if top == "common" and other in ("goturn", "glore", "bench"):
                found.append(f"{module} imports {target}: common imports no model")
            if other == "bench" and top != "bench":
                found.append(f"{module} imports {target}: nothing imports bench")
            in_data = module.startswith(f"{top}.data")
            if in_data and other == top and target != top and not target.startswith(f"{top}.data"):
                found.append(f"{module} imports {target}: data/ imports only data/ and common")
            if target in commands and target != module:
                found.append(f"{module} imports the command-line module {target}")
    return found


def test_the_tree_keeps_its_import_contract():
    imports, commands = project_graph()
    assert violations(imports, commands) == []


@pytest.mark.parametrize(
    "module, added",
    [
        ("goturn.data.crops", "glore.data.clips"),
        ("common.runtime", "goturn.model"),
        ("goturn.data.stream", "goturn.tracking.tracker"),
        ("glore.data.dataset", "glore.inference.metrics"),
        ("glore.inference.report", "glore.inference.evaluate"),
        ("goturn.tracking.benchmark", "bench.harness"),
    ],
)
def test_a_forbidden_import_is_caught(module, added):
    imports, commands = project_graph()
    assert violations(imports, commands) == [] or pytest.skip("the tree itself breaks the contract")
    imports[module] = imports[module] | {added}
    assert violations(imports, commands)
