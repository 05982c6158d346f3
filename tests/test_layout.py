"""The layout rules: scripts orchestrate, the package never imports a script or cli.py."""

import ast
import os

from conftest import REPO_ROOT

SCRIPTS = ("train", "generate", "evaluate", "chunk_audio", "tune", "export")


def imported_modules(path):
    tree = ast.parse(open(path, encoding="utf-8").read())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_the_package_imports_neither_cli_nor_a_script():
    package = os.path.join(REPO_ROOT, "samplernn")
    for name in sorted(os.listdir(package)):
        if name.endswith(".py") and name != "cli.py":
            imports = imported_modules(os.path.join(package, name))
            assert "samplernn.cli" not in imports, name
            assert not imports & set(SCRIPTS), name


def test_scripts_do_not_import_each_other():
    for script in SCRIPTS:
        imports = imported_modules(os.path.join(REPO_ROOT, f"{script}.py"))
        assert not imports & (set(SCRIPTS) - {script}), script



def package_import_graph() -> dict:
    """``{module: {samplernn modules it imports}}`` over samplernn/, counting imports
    inside functions too (a deferred import is still a dependency)."""
    package = os.path.join(REPO_ROOT, "samplernn")
    modules = {name[:-3] for name in os.listdir(package) if name.endswith(".py")}
    graph = {}
    for module in modules:
        imports = imported_modules(os.path.join(package, f"{module}.py"))
        graph[module] = {name.split(".")[1] for name in imports
                         if name.startswith("samplernn.") and name.split(".")[1] in modules}
        graph[module].discard(module)
    return graph


def cycle_in(graph: dict):
    """One import circle of ``graph`` as ``[a, b, ..., a]``, or None."""
    state = {}

    def visit(module, path):
        state[module] = "open"
        for neighbour in sorted(graph[module]):
            if state.get(neighbour) == "open":
                return path + [module, neighbour]
            if neighbour not in state:
                found = visit(neighbour, path + [module])
                if found:
                    return found
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state:
            found = visit(module, [])
            if found:
                return found[found.index(found[-1]):]
    return None


def test_no_import_circle_in_the_package():
    """Each concept sits above the ones it uses: no module imports, even inside a
    function, a module that imports it back (checkpoints -> runs, never runs -> checkpoints)."""
    assert cycle_in({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    graph = package_import_graph()
    assert "runs" in graph["checkpoints"]
    assert cycle_in(graph) is None
