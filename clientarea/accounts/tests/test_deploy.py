import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_check_deploy_reports_nothing_with_production_settings(tmp_path):
    env = {
        **os.environ, "DEBUG": "0", "SECRET_KEY": "x" * 20 + "a-real-long-random-secret-key-for-tests-1234567890",
        "ALLOWED_HOSTS": "portal.conexcol.example", "SITE_URL": "https://portal.conexcol.example",
        "DJANGO_SETTINGS_MODULE": "clientarea.settings", "VAR_DIR": str(tmp_path),
    }
    env.pop("DATABASE_URL", None)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set by the browser fixture for Playwright's event loop
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
