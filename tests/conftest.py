from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The shared real market data (../shared/data/real, beside the checkout)."""
    if not REAL.is_dir():
        pytest.fail(f"real market data not found at {REAL}; it ships beside the checkout")
    return REAL


@pytest.fixture(autouse=True)
def _isolated_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never read the developer's own settings; share one calendar cache per test session."""
    cache = tmp_path_factory.getbasetemp() / "cache"
    monkeypatch.setenv("DEEPALPHA_CACHE_DIR", str(cache))
    monkeypatch.setenv("DEEPALPHA_CONFIG", str(tmp_path_factory.getbasetemp() / "none.toml"))


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each storage test runs on SQLite and on the local Postgres."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'deepalpha.db'}"
        return
    from tests.db import postgres_database

    with postgres_database() as url:
        yield url
