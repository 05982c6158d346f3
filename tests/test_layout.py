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

