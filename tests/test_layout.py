"""The layout PRODUCT.md draws is the architecture; these checks keep it.

Imports are read from the source (ast), so a lazy import inside a function
counts as much as one at the top of a module."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = ("ledger", "b24", "amocrm", "hosts", "jobs", "reports", "handlers", "commands")


def imported(path: Path) -> set[str]:
    """Top-level names of every module `path` imports (relative imports
    resolved against its own package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = path.relative_to(ROOT).parts[0] if path.parent != ROOT else ""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add(package if node.level else (node.module or "").split(".")[0])
    return names


def modules(*packages: str) -> list[Path]:
    found = []
    for name in packages:
        target = ROOT / name
        found.extend(sorted(target.rglob("*.py")) if target.is_dir() else [ROOT / f"{name}.py"])
    return found


@pytest.mark.parametrize("path", modules("ledger"), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_ledger_knows_no_web_no_host_and_no_command_line(path):
    assert imported(path).isdisjoint({"flask", "flask_babel", "werkzeug", "click", "requests", "b24", "amocrm",
                                      "hosts", "handlers", "jobs", "reports", "commands", "emulators", "app", "demo"})


@pytest.mark.parametrize("path", modules(*PRODUCTION, "app", "settings"), ids=lambda p: str(p.relative_to(ROOT)))
def test_production_code_never_imports_the_emulators(path):
    # `demo.py` may (the demo *is* the emulator plus the app); nothing that
    # runs in production does, not even lazily.
    assert "emulators" not in imported(path)


@pytest.mark.parametrize("path", modules("b24"), ids=lambda p: str(p.relative_to(ROOT)))
def test_b24_speaks_bitrix24_and_knows_no_views(path):
    assert imported(path).isdisjoint({"handlers", "jobs", "commands", "app", "demo", "amocrm"})


@pytest.mark.parametrize("path", modules("amocrm"), ids=lambda p: str(p.relative_to(ROOT)))
def test_amocrm_speaks_amocrm_and_knows_no_views_and_no_bitrix24(path):
    assert imported(path).isdisjoint({"flask", "flask_babel", "werkzeug", "handlers", "jobs", "reports", "commands",
                                      "app", "demo", "b24"})


@pytest.mark.parametrize("path", modules("hosts"), ids=lambda p: str(p.relative_to(ROOT)))
def test_hosts_are_adapters_below_the_web(path):
    # hosts/ holds the interface, what both hosts share (hosts.secrets,
    # hosts.limits) and one thin adapter per host package; it knows no views,
    # no jobs, no reports.
    assert imported(path).isdisjoint({"flask", "flask_babel", "werkzeug", "handlers", "jobs", "reports", "commands",
                                      "app", "demo"})


@pytest.mark.parametrize("path", modules("hosts"), ids=lambda p: str(p.relative_to(ROOT)))
def test_shared_host_modules_know_no_host(path):
    if path.name in ("secrets.py", "limits.py", "__init__.py"):
        assert imported(path).isdisjoint({"b24", "amocrm"})


@pytest.mark.parametrize("path", modules("reports"), ids=lambda p: str(p.relative_to(ROOT)))
def test_reports_know_no_host(path):
    assert imported(path).isdisjoint({"b24", "amocrm", "hosts"})


def test_app_and_demo_do_not_import_each_other():
    assert "demo" not in imported(ROOT / "app.py")
    assert "app" not in imported(ROOT / "demo.py")


@pytest.mark.parametrize("path", modules("emulators"), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_emulators_are_doubles_of_the_hosts_not_of_hourbook(path):
    assert imported(path).isdisjoint({"ledger", "jobs", "handlers", "reports", "commands", "app", "demo"})


def test_the_ledger_package_holds_rules_only():
    assert not (ROOT / "ledger" / "cli.py").exists()
    assert not (ROOT / "b24" / "emulator").exists()
