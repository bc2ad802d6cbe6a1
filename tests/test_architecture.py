"""The import rules of docs/architecture.md, read from the modules' own imports.

The engine imports no channel and no SQL; storage imports no channel; channels import no
storage; only bot/app.py connects the parts; no import circles; no imports inside
functions (they were used to dodge circles).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "flows", "storage")
CHANNELS = ("bot.telegram", "bot.whatsapp", "bot.console")
SQL_LIBRARIES = ("aiosqlite", "sqlite3", "psycopg", "psycopg_pool", "asyncpg")
CHANNEL_LIBRARIES = ("telegram", "starlette", "uvicorn", "httpx")
#: Modules that may import the channel packages from outside them: the wiring, and the web
#: server that mounts the WhatsApp webhook.
CHANNEL_IMPORTERS = ("bot.app", "bot.web")
#: Imports inside a function that are allowed, with the reason. They still count as
#: edges of the import graph, so none of them can hide a circle.
LAZY_IMPORTS = {
    ("storage", "storage.postgres"): "psycopg and libpq load only for PostgreSQL deployments",
}


@dataclass
class Module:
    name: str
    path: Path
    imports: set[str] = field(default_factory=set)  # at module level (TYPE_CHECKING too)
    nested: list[tuple[int, str]] = field(default_factory=list)  # (line, module) in a def


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(node: ast.ImportFrom, current: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = current.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def read_modules(root: Path, packages: tuple[str, ...] = PACKAGES) -> dict[str, Module]:
    paths = [path for package in packages for path in sorted((root / package).rglob("*.py"))]
    modules = {module_name(path, root): Module(module_name(path, root), path) for path in paths}
    for module in modules.values():
        tree = ast.parse(module.path.read_text(encoding="utf-8"), str(module.path))
        is_package = module.path.name == "__init__.py"
        for node, in_function in _walk(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(node, module.name, is_package)
                # "from bot.cases import desk" imports the module bot.cases.desk too
                targets = [base, *(f"{base}.{a.name}" for a in node.names)]
                targets = [t for t in targets if t == base or t in modules]
            else:
                continue
            for target in targets:
                if in_function:
                    module.nested.append((node.lineno, target))
                else:
                    module.imports.add(target)
    return modules


def _walk(tree: ast.AST):
    """(node, inside a function) for every node."""
    stack = [(tree, False)]
    while stack:
        node, in_function = stack.pop()
        yield node, in_function
        inner = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        stack.extend((child, inner) for child in ast.iter_child_nodes(node))


def project_imports(module: Module, modules: dict[str, Module]) -> set[str]:
    """The modules of the tree `module` imports, at module level or inside a function."""
    targets = module.imports | {target for _line, target in module.nested}
    return {target for target in targets if target in modules}


def find_cycle(modules: dict[str, Module]) -> list[str] | None:
    """One import circle among the modules (as a path that ends where it starts), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        path.append(name)
        for target in sorted(project_imports(modules[name], modules)):
            if target == name or _is_parent(target, name):
                continue  # a package's __init__ importing its own submodules is not a circle
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[name] = 2
        return None

    for name in sorted(modules):
        if name not in state and (found := visit(name)):
            return found
    return None


def _is_parent(package: str, module: str) -> bool:
    return module.startswith(package + ".")


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def violations(modules: dict[str, Module]) -> list[str]:
    found: list[str] = []
    for module in modules.values():
        name = module.name
        where = str(module.path.relative_to(ROOT)) if module.path.is_relative_to(ROOT) else name
        for line, target in module.nested:
            if (name, target) not in LAZY_IMPORTS:
                found.append(f"{where}:{line}: import of {target} inside a function")
        for target in sorted(module.imports):
            top = target.split(".")[0]
            if _under(name, ("flows",)) and (
                top in ("bot", "storage") or top in SQL_LIBRARIES or top in CHANNEL_LIBRARIES
            ):
                found.append(f"{where}: the engine imports {target}")
            if _under(name, ("storage",)) and (top == "bot" or top in CHANNEL_LIBRARIES):
                found.append(f"{where}: storage imports {target}")
            if _under(name, CHANNELS):
                if top == "storage":
                    found.append(f"{where}: a channel imports storage ({target})")
                if _under(target, CHANNELS) and not _under(target, (_channel_of(name),)):
                    found.append(f"{where}: one channel imports another ({target})")
                if _under(target, ("bot.app", "bot.serve", "bot.cli")):
                    found.append(f"{where}: a channel imports the wiring ({target})")
            if (
                _under(target, CHANNELS)
                and not _under(name, CHANNELS)
                and not _under(name, CHANNEL_IMPORTERS)
            ):
                found.append(f"{where}: only bot/app.py wires channels, not {name} ({target})")
            if _under(name, ("bot.cases", "bot.rights", "bot.reports", "bot.followups",
                             "bot.conversations")) and (
                top in CHANNEL_LIBRARIES
            ):
                found.append(f"{where}: {name} uses a channel library ({target})")
            if name == "bot.conversations" and top == "bot":
                found.append(f"{where}: the turn path imports {target}")
    return found


def _channel_of(name: str) -> str:
    return next(c for c in CHANNELS if _under(name, (c,)))


def test_the_tree_follows_the_import_rules() -> None:
    modules = read_modules(ROOT)
    assert len(modules) > 40  # the whole tree was read
    assert violations(modules) == []


def test_there_are_no_import_circles() -> None:
    assert find_cycle(read_modules(ROOT)) is None


@pytest.fixture
def broken_tree(tmp_path: Path) -> Path:
    """A tiny tree that breaks every rule once, to show the checks can fail."""
    files = {
        "bot/__init__.py": "",
        "bot/app.py": "from bot.telegram.channel import X\n",
        "bot/cases/__init__.py": "",
        "bot/cases/desk.py": "from bot.cases.escalation import E\n",
        "bot/cases/escalation.py": "def f():\n    from bot.cases.desk import D\n"
        "from bot.cases import desk\n",
        "bot/telegram/__init__.py": "",
        "bot/telegram/channel.py": "from storage import cases\nfrom bot.whatsapp import w\n",
        "bot/whatsapp/__init__.py": "",
        "bot/report.py": "from bot.telegram.channel import X\n",
        "flows/__init__.py": "",
        "flows/runtime.py": "import aiosqlite\nfrom bot.config import Config\n",
        "storage/__init__.py": "",
        "storage/cases.py": "from telegram import Bot\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def test_the_checks_catch_each_kind_of_mistake(broken_tree: Path) -> None:
    modules = read_modules(broken_tree)
    found = "\n".join(violations(modules))
    for expected in (
        "import of bot.cases.desk inside a function",
        "the engine imports aiosqlite",
        "the engine imports bot.config",
        "storage imports telegram",
        "a channel imports storage",
        "one channel imports another",
        "only bot/app.py wires channels, not bot.report",
    ):
        assert expected in found
    assert find_cycle(modules) == ["bot.cases.desk", "bot.cases.escalation", "bot.cases.desk"]
