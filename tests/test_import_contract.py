"""The engine knows nothing of the UI, SQL or the app (SPEC §2, rules of the house), and the
layers stay layers (engine, storage, application, faces; screens reach data only through the
Backend), checked mechanically by import-linter's contracts in pyproject.toml."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
FORBIDDEN = {
    "textual",
    "sqlalchemy",
    "deepalpha.app",
    "deepalpha.screens",
    "deepalpha.widgets",
    "deepalpha.storage",
}


def engine_contract() -> dict[str, Any]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["importlinter"]
    (contract,) = [
        c for c in config["contracts"] if c.get("source_modules") == ["deepalpha.engine"]
    ]
    return {"config": config, "contract": contract}


def run_lint_imports(
    cwd: Path, *args: str, pythonpath: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_contract_is_the_one_the_spec_asks_for() -> None:
    found = engine_contract()
    assert found["config"]["include_external_packages"] is True
    assert found["contract"]["type"] == "forbidden"
    assert set(found["contract"]["forbidden_modules"]) == FORBIDDEN


def test_engine_contract_is_kept() -> None:
    result = run_lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "The engine knows nothing of the UI, SQL or the app KEPT" in result.stdout
    assert "0 broken" in result.stdout


def test_the_contract_catches_a_violation(tmp_path: Path) -> None:
    """The same contract, applied to a small package whose engine imports its storage layer
    and Textual, is reported broken with both imports named."""
    pkg = tmp_path / "src" / "fakealpha"
    for sub in ("", "engine", "storage", "app", "screens", "widgets"):
        (pkg / sub).mkdir(parents=True, exist_ok=True)
        (pkg / sub / "__init__.py").write_text("", "utf-8")
    (pkg / "storage" / "db.py").write_text("ENGINE_URL = 'sqlite://'\n", "utf-8")
    (pkg / "engine" / "broker.py").write_text(
        "from fakealpha.storage import db\n\nURL = db.ENGINE_URL\n", "utf-8"
    )
    (pkg / "engine" / "view.py").write_text("import textual\n", "utf-8")
    (pkg / "engine" / "clean.py").write_text("import decimal\n", "utf-8")
    found = engine_contract()
    contract = found["contract"]
    forbidden = [m.replace("deepalpha", "fakealpha") for m in contract["forbidden_modules"]]
    (tmp_path / "pyproject.toml").write_text(
        "[tool.importlinter]\n"
        'root_packages = ["fakealpha"]\n'
        "include_external_packages = true\n\n"
        "[[tool.importlinter.contracts]]\n"
        f"name = {json.dumps(contract['name'])}\n"
        'type = "forbidden"\n'
        'source_modules = ["fakealpha.engine"]\n'
        f"forbidden_modules = {json.dumps(forbidden)}\n",
        "utf-8",
    )
    result = run_lint_imports(tmp_path, pythonpath=tmp_path / "src")
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "BROKEN" in out
    assert "1 broken" in out
    assert "fakealpha.engine.broker -> fakealpha.storage.db" in out
    assert "fakealpha.engine.view -> textual" in out
    assert "fakealpha.engine.clean" not in out


def test_a_screen_that_imports_the_app_or_the_database_breaks_the_layers(tmp_path: Path) -> None:
    """The project's own contracts, on a copy of the package where a screen imports the app
    that shows it (the circle the screens left) and a widget the storage layer."""
    shutil.copytree(
        ROOT / "deepalpha", tmp_path / "deepalpha", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for path, line in (
        ("screens/orders.py", "from deepalpha.app.tui import DeepAlphaApp"),
        ("widgets/nav_bar.py", "from deepalpha.storage import repository"),
    ):
        module = tmp_path / "deepalpha" / path
        module.write_text(module.read_text("utf-8") + f"\n{line}  # noqa\n", "utf-8")
    result = run_lint_imports(tmp_path, pythonpath=tmp_path)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "The engine knows nothing of the UI, SQL or the app KEPT" in out
    assert "deepalpha.screens.orders -> deepalpha.app.tui" in out
    assert "deepalpha.widgets.nav_bar -> deepalpha.storage.repository" in out
    assert "2 broken" in out  # the layers, and screens and widgets reach data via the Backend
