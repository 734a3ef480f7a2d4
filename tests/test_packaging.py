"""`pip install .` gives a working app: templates, static files and migrations ship in the wheel."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow

SERVE_EVERY_PAGE = textwrap.dedent(
    """
    import portal
    from flask_migrate import upgrade
    app = portal.create_app()
    print(portal.__file__)
    with app.app_context():
        upgrade()
    client = app.test_client()
    for url in ["/", "/request-an-appointment", "/contact-us", "/notices/billing-disclosure",
                "/static/css/portal.css", "/static/js/portal.js", "/static/img/favicon.svg"]:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        response.close()
    print("ok")
    """
)


def test_installed_wheel_serves_every_page_with_its_css(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path / "dist"),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    [wheel] = (tmp_path / "dist").glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for shipped in (
        "portal/templates/base.html",
        "portal/static/css/portal.css",
        "portal/migrations/env.py",
        "portal/migrations/alembic.ini",
    ):
        assert shipped in names, shipped
    assert not any(name.startswith("instance/") for name in names)

    target = tmp_path / "installed"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    # The installed copy comes first on the path; the dependencies come from this environment.
    env = {
        "PYTHONPATH": f"{target}:{sysconfig.get_paths()['purelib']}",
        "PORTAL_INSTANCE_PATH": str(tmp_path / "instance"),
        "PORTAL_SECRET_KEY": "packaging-test",
    }
    result = subprocess.run(
        [sys.executable, "-c", SERVE_EVERY_PAGE],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith(str(target))
    assert result.stdout.splitlines()[-1] == "ok"
