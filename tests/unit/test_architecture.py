"""The direction of imports (ARCHITECTURE.md): a wrong import fails here, not in a review."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLATFORM_SDKS = {"telegram", "discord", "slack_bolt", "slack_sdk"}
CORE_FORBIDDEN = PLATFORM_SDKS | {
    "sqlmodel", "sqlalchemy", "alembic", "apscheduler", "langdetect", "aiohttp", "httpx",
    "psycopg", "socket", "requests", "asyncio", "bots", "adapters", "storage", "babel",
    "pydantic_settings",
}


def imports_of(path: Path) -> set[str]:
    """Top-level names of every module a file imports, wherever the import statement sits."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def modules(room: str) -> list[Path]:
    return sorted((ROOT / room).rglob("*.py"))


def violations(room: str, forbidden: set[str]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in modules(room)
        for name in sorted(imports_of(path) & forbidden)
    ]


def test_core_is_pure() -> None:
    assert modules("core"), "core/ has no modules?"
    assert violations("core", CORE_FORBIDDEN) == []


def test_core_and_storage_never_read_the_clock() -> None:
    """Time is passed in (a test's clock must rule what is stored, too)."""
    offenders = [
        str(path.relative_to(ROOT))
        for path in modules("core") + modules("storage")
        if any(call in path.read_text(encoding="utf-8")
               for call in ("datetime.now(", "datetime.utcnow(", "time.time(", "date.today("))
    ]
    assert offenders == []


@pytest.mark.parametrize(("room", "other"), [("adapters", "storage"), ("storage", "adapters")])
def test_adapters_and_storage_never_import_each_other(room: str, other: str) -> None:
    assert violations(room, {other, "bots"}) == []


def code_strings(path: Path) -> set[str]:
    """String literals of a module, docstrings left out (they may name a file they describe)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body and isinstance(node.body[0], ast.Expr)
    }
    return {
        node.value for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        and id(node) not in docstrings
    }


def test_only_bots_reads_config() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for room in ("core", "adapters", "storage")
        for path in modules(room)
        if any("config" in text and ("/" in text or text == "config")
               for text in code_strings(path))
        or "bots" in imports_of(path)
    ]
    assert offenders == []


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from sqlalchemy import select\n    import telegram.ext\n")
    assert imports_of(bad) >= {"sqlalchemy", "telegram"}
