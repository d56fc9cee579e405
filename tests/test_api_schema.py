"""schemathesis against the live server's own OpenAPI document, with every check: no 5xx, every
status and body documented, valid data accepted and invalid data refused. A bounded run here;
the closing note of the issue quotes a longer one (``-n 10`` and the stateful phase)."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from deepalpha.server.auth import Role
from tests.api_support import live_server

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@pytest.mark.slow
def test_the_api_keeps_to_its_own_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> tuple[int, str]:
        async with live_server(tmp_path, monkeypatch) as live:
            token = live.served.api.tokens.issue("ada", Role.ADMIN).access_token
            exe = Path(sys.executable).with_name("schemathesis")
            proc = await asyncio.create_subprocess_exec(
                str(exe),
                "run",
                f"{live.url}/api/v1/openapi.json",
                "--checks",
                "all",
                "--header",
                f"Authorization: Bearer {token}",
                "--max-examples",
                "3",
                "--phases",
                "examples,coverage,fuzzing",
                "--request-timeout",
                "20",
                "--seed",
                "20261203",
                # A restore swaps the database under the run; its refusals are tested elsewhere.
                "--exclude-path",
                "/api/v1/backups/{backup_id}/restore",
                "--no-color",
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                cwd=tmp_path,
            )
            out, _ = await proc.communicate()
            return proc.returncode or 0, out.decode(errors="replace")

    code, output = run(scenario())
    assert code == 0, output[-6000:]
    tested = re.search(r"Tested:\s+(\d+)", output)
    assert tested is not None and int(tested.group(1)) >= 30, output[-3000:]
