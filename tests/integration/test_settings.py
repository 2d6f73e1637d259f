"""Settings come from the environment with safe defaults. Each case imports the settings module in a fresh
interpreter, because settings are read once per process."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PROBE = """
import json, wattdesk.settings as s
db = s.DATABASES["default"]
print(json.dumps({
    "engine": db["ENGINE"], "name": str(db["NAME"]), "host": db.get("HOST"), "port": db.get("PORT"),
    "options": db.get("OPTIONS", {}), "debug": s.DEBUG, "secret": s.SECRET_KEY, "data_dir": str(s.WATTDESK_DATA_DIR),
    "hosts": s.ALLOWED_HOSTS, "lang": s.LANGUAGE_CODE, "langs": [c for c, _ in s.LANGUAGES], "tz": s.TIME_ZONE,
    "use_tz": s.USE_TZ, "auto": s.DEFAULT_AUTO_FIELD,
}))
"""

CLEAN = (
    "WATTDESK_DATABASE_URL",
    "WATTDESK_DEBUG",
    "WATTDESK_SECRET_KEY",
    "WATTDESK_ALLOWED_HOSTS",
    "WATTDESK_DATA_DIR",
)


def _run(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k not in CLEAN}
    full.update({"HOME": str(tmp_path / "home"), "XDG_DATA_HOME": str(tmp_path / "xdg")})
    full.update(env)
    return subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True, timeout=60)


def _settings(tmp_path: Path, **env: str) -> dict[str, Any]:
    proc = _run(PROBE, tmp_path, **env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


class TestDatabaseFromEnvironment:
    def test_unset_url_means_embedded_sqlite_in_the_user_data_dir(self, tmp_path: Path) -> None:
        s = _settings(tmp_path)
        expected_dir = tmp_path / "xdg" / "wattdesk"
        assert s["engine"] == "django.db.backends.sqlite3"
        assert s["name"] == str(expected_dir / "wattdesk.db")
        assert expected_dir.is_dir()
        assert "journal_mode=WAL" in s["options"]["init_command"]
        assert "synchronous=NORMAL" in s["options"]["init_command"]
        assert s["options"]["transaction_mode"] == "IMMEDIATE"

    def test_data_dir_setting_moves_the_default_database(self, tmp_path: Path) -> None:
        s = _settings(tmp_path, WATTDESK_DATA_DIR=str(tmp_path / "data"))
        assert s["data_dir"] == str(tmp_path / "data")
        assert s["name"] == str(tmp_path / "data" / "wattdesk.db")

    def test_postgresql_url(self, tmp_path: Path) -> None:
        s = _settings(tmp_path, WATTDESK_DATABASE_URL="postgresql://bill:pw@db.internal:6543/wattdesk")
        assert s["engine"] == "django.db.backends.postgresql"
        assert (s["name"], s["host"], s["port"]) == ("wattdesk", "db.internal", 6543)
        assert "init_command" not in s["options"]

    def test_sqlite_url(self, tmp_path: Path) -> None:
        s = _settings(tmp_path, WATTDESK_DATABASE_URL=f"sqlite:///{tmp_path}/other.db")
        assert s["name"] == f"{tmp_path}/other.db"

    def test_unsupported_engine_is_refused(self, tmp_path: Path) -> None:
        proc = _run(PROBE, tmp_path, WATTDESK_DATABASE_URL="mysql://u@h/db")
        assert proc.returncode != 0
        assert "unsupported database engine" in proc.stderr

    def test_sqlite_file_really_runs_in_wal_mode(self, tmp_path: Path) -> None:
        code = (
            "import django; django.setup()\n"
            "from django.db import connection\n"
            "c = connection.cursor()\n"
            "print(c.execute('PRAGMA journal_mode').fetchone()[0], c.execute('PRAGMA synchronous').fetchone()[0])\n"
        )
        proc = _run(
            code, tmp_path, DJANGO_SETTINGS_MODULE="wattdesk.settings", WATTDESK_DATA_DIR=str(tmp_path)
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.split() == ["wal", "1"]  # synchronous NORMAL == 1


class TestSecurityAndLocale:
    def test_defaults(self, tmp_path: Path) -> None:
        s = _settings(tmp_path)
        assert s["debug"] is False
        assert s["hosts"] == ["localhost", "127.0.0.1", "[::1]"]
        assert (s["lang"], s["langs"], s["tz"], s["use_tz"]) == (
            "zh-hans",
            ["zh-hans", "en"],
            "Asia/Shanghai",
            True,
        )
        assert s["auto"] == "django.db.models.BigAutoField"

    def test_without_debug_a_random_key_is_generated_once_and_kept_private(self, tmp_path: Path) -> None:
        first = _settings(tmp_path, WATTDESK_DATA_DIR=str(tmp_path))
        second = _settings(tmp_path, WATTDESK_DATA_DIR=str(tmp_path))
        key_file = tmp_path / "secret_key"
        assert first["secret"] == second["secret"] == key_file.read_text()
        assert "insecure" not in first["secret"] and len(first["secret"]) >= 50
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    def test_debug_uses_the_dev_key_and_env_key_wins(self, tmp_path: Path) -> None:
        assert "insecure" in _settings(tmp_path, WATTDESK_DEBUG="1")["secret"]
        assert _settings(tmp_path, WATTDESK_DEBUG="1", WATTDESK_SECRET_KEY="k" * 60)["secret"] == "k" * 60

    @pytest.mark.parametrize("raw", ["maybe", "2"])
    def test_a_malformed_boolean_is_refused(self, tmp_path: Path, raw: str) -> None:
        proc = _run(PROBE, tmp_path, WATTDESK_DEBUG=raw)
        assert proc.returncode != 0
        assert "WATTDESK_DEBUG" in proc.stderr

    def test_allowed_hosts_from_env(self, tmp_path: Path) -> None:
        s = _settings(tmp_path, WATTDESK_ALLOWED_HOSTS="billing.example.cn, 10.0.0.5")
        assert s["hosts"] == ["billing.example.cn", "10.0.0.5"]
