"""A settings.toml a person got wrong is one line naming the file, the line or the key (exit
status 2), never a traceback; a key no setting has is warned about, not silently ignored."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from deepalpha.app.cli import main
from deepalpha.app.settings import SettingsError, load_settings, use_settings_file

ROOT = Path(__file__).resolve().parents[1]
BAD = [
    (b"[ui\nlanguage = 'en'\n", "line 1, column 4"),
    (b"[ai]\ninterval_minutes = -5\n", "ai.interval_minutes: Input should be greater than"),
    (b"[ai]\ninterval_minutes = 'x'\n", "ai.interval_minutes: Input should be a valid integer"),
    (b"[fees]\ncn_commission_rate = 'lots'\n", "fees.cn_commission_rate"),
    (b"# fine\n[ui]\nlanguage = '\xff\xfe'\n", "settings.toml:3: not UTF-8 text (byte 0xff)"),
]


@pytest.mark.parametrize(("body", "says"), BAD)
def test_a_wrong_settings_file_is_one_line(
    body: bytes, says: str, tmp_path: Path, real_data: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.delenv("DEEPALPHA_CONFIG")  # the tests' guard against the developer's own
    (tmp_path / "settings.toml").write_bytes(body)
    data = str(real_data / "a_600519_daily_2023-08.csv")
    argv = ["--data-dir", str(tmp_path), "backtest", "--data", data, "--cash", "100000",
            "--strategy", "sma_cross", "--quiet"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("deepalpha: error: settings: ") and len(err.splitlines()) == 1, err
    assert says in err and str(tmp_path / "settings.toml") in err


def test_the_engine_says_it_in_one_line_too(tmp_path: Path) -> None:
    (tmp_path / "settings.toml").write_bytes(BAD[1][0])
    env = {k: v for k, v in os.environ.items() if k not in ("DEEPALPHA_CONFIG",)}
    proc = subprocess.run(
        [sys.executable, "-m", "deepalpha", "serve", "--data-dir", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    errors = [x for x in proc.stderr.splitlines() if x.startswith("deepalpha: error:")]
    assert errors == [
        f"deepalpha: error: settings: {tmp_path / 'settings.toml'}: ai.interval_minutes: "
        "Input should be greater than or equal to 1 (got -5)"
    ]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "deepalpha.db").exists()  # refused before anything was made


def test_a_variable_is_named_when_it_is_the_mistake(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_settings_file(tmp_path / "settings.toml")
    monkeypatch.delenv("DEEPALPHA_CONFIG")
    monkeypatch.setenv("DEEPALPHA_AI__INTERVAL_MINUTES", "0")
    with pytest.raises(SettingsError, match=r"^DEEPALPHA_AI__INTERVAL_MINUTES: ai\.interval"):
        load_settings()


def test_unknown_keys_are_warned_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("DEEPALPHA_CONFIG")
    path = tmp_path / "settings.toml"
    path.write_text(
        "[bogus]\na = 1\n[ui]\nlangage = 'en'\n"
        "[ai.prices.'my-model']\ninput = 1\noutput = 2\n",  # a table of free keys: fine
        "utf-8",
    )
    use_settings_file(path)
    caplog.set_level(logging.WARNING, logger="deepalpha")
    load_settings()
    load_settings()
    warned = [r.getMessage() for r in caplog.records]
    assert warned == [
        f"{path}: unknown setting bogus (ignored); check its spelling",
        f"{path}: unknown setting ui.langage (ignored); check its spelling",
    ]
