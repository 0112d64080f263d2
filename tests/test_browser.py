"""In a real headless Chromium: sign in, upload a file, watch its status page turn from pending
to final on its own (the page's script), and keep a screenshot."""
# pylint: disable=missing-function-docstring  # the test name says it

from __future__ import annotations

import uuid
from pathlib import Path

from .support import PASSWORD, Server, git, make_work_repo, skip_or_fail

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def ensure_chromium() -> str:
    """Debian's chromium; the test skips (CI: fails) when it is missing. Tests never install
    system packages: `.ci/run` installs it, and locally `apt-get install chromium` does."""
    if not Path(CHROMIUM).exists():
        skip_or_fail(f"{CHROMIUM} is not installed; install it with `sudo apt-get install -y "
                     "chromium` to run the browser test")
    return CHROMIUM


def slow_module() -> bytes:
    """A clean module big enough that pylint needs a noticeable moment for it; unique, so no
    earlier result is reused and the page must start out pending."""
    lines = [f'"""Uploaded from the browser test {uuid.uuid4().hex}."""', ""]
    for number in range(400):
        lines += ["", "", f"def function_{number}(value):",
                  f'    """Return value plus {number}."""', f"    total = value + {number}",
                  "    for step in range(3):", "        total += step", "    return total"]
    return ("\n".join(lines) + "\n").encode()


def test_browser_upload_and_watch_the_status_page(server: Server, tmp_path: Path):
    try:
        from playwright import sync_api  # pylint: disable=import-outside-toplevel
    except ImportError:
        skip_or_fail("the playwright package is not installed (pip install -e '.[test]')")
    executable = ensure_chromium()
    work = make_work_repo(tmp_path / "w", {"seed.py": '"""Seed."""\n'})
    git(work, "push", server.url("alice/web.git", "alice"), "main")

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(server.url("/alice/web/upload/main"))
            assert "/login" in page.url  # private repo: sign in first
            page.fill("#login", "alice")
            page.fill("#password", PASSWORD)
            page.click("form[action='/login'] button[type=submit]")
            page.wait_for_url("**/alice/web/upload/main")

            page.set_input_files("#files", files=[{
                "name": "slow.py", "mimeType": "text/x-python", "buffer": slow_module()}])
            page.fill("#message", "Upload from the browser")
            page.click("form[enctype='multipart/form-data'] button[type=submit]")
            page.wait_for_url("**/alice/web/commit/*")

            state = page.locator("#commit-state")
            assert state.get_attribute("data-state") == "pending"
            assert page.locator("#status-page").get_attribute("data-pending") == "true"
            assert "Upload from the browser" in page.content()

            # No reload from here: the page's script follows the checks and shows the verdict.
            page.wait_for_selector("#status-page[data-pending='false']", timeout=60_000)
            final = page.locator("#commit-state").get_attribute("data-state")
            assert final in ("success", "failure")
            assert page.locator(".file-card[data-path='slow.py'] .state-badge") \
                .get_attribute("data-state") == final
            shot = tmp_path / "status-page.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
        finally:
            browser.close()
