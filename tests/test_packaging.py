"""The built wheel, installed without the source tree, serves pages and takes a push: templates
and static files ship in it (an editable install alone would hide their absence)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from .support import ROOT, Server, git, make_work_repo, server_env

LAUNCH = "import sys; from gitserver.cli import main; sys.exit(main())"


def _build_and_install(tmp_path: Path) -> Path:
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--wheel-dir", str(wheels), str(ROOT)],
                   check=True, capture_output=True, timeout=300, cwd=tmp_path)
    (wheel,) = wheels.glob("gitserver-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=300, cwd=tmp_path)
    return target


def test_wheel_install_serves_pages_and_takes_a_push(tmp_path: Path) -> None:
    target = _build_and_install(tmp_path)
    assert (target / "gitserver" / "templates" / "web" / "base.html").is_file()
    assert (target / "gitserver" / "web" / "static" / "gitserver.css").is_file()
    env, cleanup = server_env(tmp_path / "srv" / "data", backend="embedded")
    env["PYTHONPATH"] = str(target)  # ahead of the editable install's finder
    where = subprocess.run([sys.executable, "-c", "import gitserver; print(gitserver.__file__)"],
                           env=env, capture_output=True, text=True, check=True, cwd=tmp_path)
    assert where.stdout.strip().startswith(str(target)), where.stdout
    (tmp_path / "srv").mkdir()
    server = Server(data_dir=tmp_path / "srv" / "data", env=env, cleanup=cleanup,
                    command=[sys.executable, "-c", LAUNCH])
    try:
        server.start()
        server.add_user("alice")
        login = httpx.get(server.url("login"), timeout=10)
        assert login.status_code == 200 and "<form" in login.text
        assert httpx.get(server.url("static/gitserver.css"), timeout=10).status_code == 200
        work = make_work_repo(tmp_path / "work", {"hello.py": '"""Hello."""\n'})
        pushed = git(work, "push", server.url("alice/wheel.git", "alice"), "main")
        assert "/alice/wheel/commit/" in pushed.stderr
        page = httpx.get(server.url("alice/wheel", "alice"), timeout=10)
        assert page.status_code == 200 and "hello.py" in page.text
    finally:
        server.stop()
