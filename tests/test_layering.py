"""The library stands alone: nothing under listener/ imports spiders/, workers/ or the demo, not even inside a
function, and the commands that need them join the CLI through the `listener.commands` entry points."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = ("spiders", "workers", "demo")


def imported_packages(tree: ast.AST):
    """(line, top-level package) for every import statement and every importlib/__import__ call on a literal."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "__import__"):
                yield node.lineno, node.args[0].value.split(".")[0]


def test_the_scanner_sees_imports_inside_functions_and_importlib_calls():
    source = ("def f():\n    from spiders.crawl import crawl\n    import workers.app\n"
              "    importlib.import_module('demo.run')\n    import listener.config\n")
    assert sorted(pkg for _, pkg in imported_packages(ast.parse(source))) == ["demo", "listener", "spiders", "workers"]


def test_the_library_imports_neither_spiders_nor_workers_nor_the_demo():
    offenders = []
    modules = sorted((ROOT / "listener").rglob("*.py"))
    assert len(modules) > 20  # the scan really covers the library
    for path in modules:
        for line, package in imported_packages(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if package in FORBIDDEN:
                offenders.append(f"{path.relative_to(ROOT)}:{line} imports {package}")
    assert not offenders, "listener/ must not import these (use the listener.commands entry points):\n" + \
        "\n".join(offenders)


def test_every_declared_command_plugin_exists_and_registers():
    """Each entry point in pyproject.toml names a real register(app) function."""
    import typer

    from listener.cli.plugins import GROUP, load

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"][GROUP]
    assert {"gathering", "api-sources", "demo"} <= set(declared)
    for name, value in declared.items():
        app = typer.Typer()
        register = load(value)
        assert register is not None, f"{name}: {value} is not importable"
        register(app)
        assert app.registered_commands or app.registered_groups, f"{name}: {value} registered nothing"


def test_the_library_imports_and_its_cli_runs_without_the_other_packages(tmp_path):
    """In a process where spiders, workers and demo cannot be imported, the library and the CLI still load."""
    blocker = ("import sys\n"
               "class Block:\n"
               "    def find_spec(self, name, path=None, target=None):\n"
               f"        if name.split('.')[0] in {FORBIDDEN!r}:\n"
               "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
               "sys.meta_path.insert(0, Block())\n"
               "import listener.cli, listener.pipeline, listener.runtime, listener.search, listener.stats\n"
               "from typer.testing import CliRunner\n"
               "result = CliRunner().invoke(listener.cli.app, ['--help'])\n"
               "assert result.exit_code == 0, result.output\n"
               "assert 'search' in result.output and 'crawl' not in result.output\n"
               "print('ok')\n")
    proc = subprocess.run([sys.executable, "-c", blocker], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


@pytest.mark.parametrize("command", ["crawl", "run", "reddit", "youtube", "demo"])
def test_gathering_and_demo_commands_join_through_the_hook(command):
    from typer.testing import CliRunner

    from listener.cli import app

    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output


def test_only_the_cli_imports_the_cli():
    """The web app, alerts, SEO and the rest are the library the CLI is built on, not the other way round:
    what they share with the CLI (filter checking, JSON output) lives in listener.filters and listener.jsonable."""
    offenders = []
    for path in sorted((ROOT / "listener").rglob("*.py")):
        if (ROOT / "listener" / "cli") in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else []
            offenders += [f"{path.relative_to(ROOT)}:{node.lineno} imports {n}" for n in names
                          if n == "listener.cli" or n.startswith("listener.cli.")]
    assert not offenders, "\n".join(offenders)
