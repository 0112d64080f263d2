"""The browser editor in a real headless Chromium: the file's pylint messages at their lines,
highlighting, Tab and Shift+Tab, Enter keeping the indentation, Ctrl+S committing; and the same
page as a plain form without JavaScript."""
# pylint: disable=missing-function-docstring  # the test name says it

from __future__ import annotations

from pathlib import Path
from typing import Any

from .support import PASSWORD, Server, checks_of, git, make_work_repo, wait_until
from .test_browser import ARGS, ensure_chromium

SOURCE = '"""A module."""\nimport os\n\n\ndef greet(name):\n    return "hi " + name\n'
TYPED = ("\ndef add(a, b):\n"        # Enter after the colon indents the next line
         '"""Add."""\nreturn a + b\n')  # ... and the lines after it keep that indentation
EXPECTED = SOURCE + ('\ndef add(a, b):\n    """Add."""\n    return a + b\n'
                     "VALUE = 1\nif VALUE:\n    VALUE += 1\n")


def playwright_api() -> Any:
    try:
        from playwright import sync_api  # pylint: disable=import-outside-toplevel
    except ImportError:
        from .support import skip_or_fail  # pylint: disable=import-outside-toplevel
        skip_or_fail("the playwright package is not installed (pip install -e '.[test]')")
    return sync_api


def sign_in(page: Any, server: Server, target: str) -> None:
    page.goto(server.url(target))
    page.fill("#login", "alice")
    page.fill("#password", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(f"**{target}")


def pushed_and_checked(server: Server, tmp_path: Path) -> str:
    work = make_work_repo(tmp_path / "w", {"mod.py": SOURCE})
    git(work, "push", server.url("alice/ed.git", "alice"), "main")
    sha = git(work, "rev-parse", "HEAD").stdout.strip()
    wait_until("the checks of the pushed commit", lambda: (
        checks := checks_of(server, "ed", sha)) and checks["state"] != "pending")
    return sha


def test_editor_messages_tab_enter_and_ctrl_s_commit(server: Server, tmp_path: Path):
    sync_api = playwright_api()
    executable = ensure_chromium()
    pushed_and_checked(server, tmp_path)

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            sign_in(page, server, "/alice/ed/edit/main/mod.py")
            page.wait_for_selector(".ce-frame[data-ready='true']")

            # pylint's messages of this version, at their lines: the gutter and the line itself
            unused = page.locator(".ce-highlight .ce-flag[data-line='2'] .ce-note")
            assert "unused-import" in unused.inner_text()
            assert unused.is_visible()
            assert page.locator(".ce-gutter .ce-mark", has_text="2").first.is_visible()
            assert page.locator(".ce-highlight .kn", has_text="import").count() == 1
            assert page.locator(".ce-highlight .k", has_text="def").count() >= 1
            assert page.locator(".ce-highlight .nf", has_text="greet").count() == 1

            page.fill("#message", "Edited in the browser")
            area = page.locator("#content")
            area.click()
            page.keyboard.press("Control+End")
            page.keyboard.type(TYPED)
            page.keyboard.press("Shift+Tab")  # the indented empty line back to column 0
            page.keyboard.type("VALUE = 1\nif VALUE:\n")
            page.keyboard.press("Shift+Tab")
            page.keyboard.press("Tab")  # Tab indents and keeps the focus in the editor
            assert page.evaluate("document.activeElement.id") == "content"
            page.keyboard.type("VALUE += 1\n")
            page.keyboard.press("Shift+Tab")
            assert area.input_value() == EXPECTED
            # the highlight follows the text, and the message moved with nothing above it
            assert page.locator(".ce-highlight .nf", has_text="add").count() == 1
            assert page.locator(".ce-highlight .ce-flag[data-line='2']").count() == 1
            page.screenshot(path=str(tmp_path / "editor.png"), full_page=True)

            page.keyboard.press("Control+s")
            page.wait_for_url("**/alice/ed/commit/*")
            assert "Edited in the browser" in page.content()
        finally:
            browser.close()

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", server.url("alice/ed.git", "alice"), str(clone))
    assert (clone / "mod.py").read_text(encoding="utf-8") == EXPECTED
    assert git(clone, "log", "-1", "--format=%s").stdout.strip() == "Edited in the browser"


def test_editor_without_javascript_is_a_plain_form(server: Server, tmp_path: Path):
    sync_api = playwright_api()
    executable = ensure_chromium()
    work = make_work_repo(tmp_path / "w", {"plain.py": SOURCE})
    git(work, "push", server.url("alice/plain.git", "alice"), "main")

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=ARGS)
        try:
            page = browser.new_context(java_script_enabled=False).new_page()
            sign_in(page, server, "/alice/plain/edit/main/plain.py")
            assert page.locator(".ce-frame").count() == 0
            page.fill("#content", '"""Replaced without JavaScript."""\n')
            page.fill("#message", "No script")
            page.click("#edit-form button[type=submit]")
            page.wait_for_url("**/alice/plain/commit/*")
        finally:
            browser.close()
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", server.url("alice/plain.git", "alice"), str(clone))
    assert (clone / "plain.py").read_text(encoding="utf-8") == \
        '"""Replaced without JavaScript."""\n'
