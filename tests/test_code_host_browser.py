"""In a real headless Chromium at 1280 px: the commit page's diff (a changed line with its new
message under it), the repo page's layout (the file table stays clear of the sidebar, file names
keep their underscores) and the branch switcher, which works without JavaScript."""
# pylint: disable=missing-function-docstring  # the test name says it

from __future__ import annotations

from pathlib import Path
from typing import Any

from .support import PASSWORD, Server, commit_files, git, make_work_repo, skip_or_fail
from .test_browser import ARGS, ensure_chromium
from .test_pages import wait_final

BEFORE = '"""Shapes."""\n\n\ndef area(width, height):\n    """Area."""\n    return width * height\n'
AFTER = ('"""Shapes."""\n\n\ndef area(width, height):\n    """Area."""\n'
         "    unused = 3\n    return width * height\n")


def test_browser_commit_diff_repo_layout_and_switcher(server: Server, tmp_path: Path):
    try:
        from playwright import sync_api  # pylint: disable=import-outside-toplevel
    except ImportError:
        skip_or_fail("the playwright package is not installed (pip install -e '.[test]')")
    executable = ensure_chromium()
    work = make_work_repo(tmp_path / "w", {
        "shapes.py": BEFORE, "pkg/__init__.py": '"""Package."""\n',
        "pkg/a_rather_long_module_name_with_many_underscores_in_it_for_layout.py": '"""Long."""\n'},
        "Shapes")
    git(work, "branch", "other")
    sha = commit_files(work, {"shapes.py": AFTER}, "Add an unused variable")
    git(work, "push", server.url("alice/diffview.git", "alice"), "main", "other")
    wait_final(server, "alice/diffview", sha)

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900},
                                    java_script_enabled=False)
            page.goto(server.url("/login?next=/alice/diffview"))
            page.fill("#login", "alice")
            page.fill("#password", PASSWORD)
            page.click("form[action='/login'] button[type=submit]")
            page.wait_for_url("**/alice/diffview")

            check_repo_page(page)
            check_commit_page(page, server, sha, tmp_path)
        finally:
            browser.close()


def check_repo_page(page: Any) -> None:
    """The file table ends before the sidebar starts; `__init__.py` is not underlined; the
    switcher opens without a script and leads to the other branch."""
    table = page.locator("#files").bounding_box()
    sidebar = page.locator("#clone-url").bounding_box()
    assert table is not None and sidebar is not None
    assert table["x"] + table["width"] <= sidebar["x"], (table, sidebar)
    link = page.locator("#files a", has_text="__init__.py")
    assert link.inner_text() == "pkg/__init__.py"
    assert link.evaluate("a => getComputedStyle(a).textDecorationLine") == "none"

    page.click("#ref-switcher summary")
    page.click("#ref-switcher a[data-ref-kind='branch']:text-is('other')")
    page.wait_for_url("**/alice/diffview/tree/other")
    assert page.locator("#current-ref").inner_text() == "other"


def check_commit_page(page: Any, server: Server, sha: str, tmp_path: Path) -> None:
    """The changed line with its new message under it, highlighted in the diff's green; the
    unchanged files one collapsed list."""
    page.goto(server.url(f"/alice/diffview/commit/{sha}"))
    diff = page.locator(".diff-file[data-file='shapes.py']")
    added = diff.locator("tr.diff-add")
    assert added.count() == 1
    assert "unused = 3" in added.inner_text()
    assert added.get_attribute("data-new-line") == "6"
    message = diff.locator("tr.msg-row").first
    assert message.is_visible()
    assert "unused-variable" in message.inner_text()
    assert message.locator(".new-mark").is_visible()
    # highlighted like the blob page, in the diff's green
    assert added.locator("td.code .n, td.code .o, td.code .mi").count() >= 1
    colour = added.locator("td.code").evaluate("td => getComputedStyle(td).backgroundColor")
    assert colour == "rgb(230, 255, 236)", colour
    # the unchanged files are one collapsed list
    unchanged = page.locator("#unchanged-files")
    assert unchanged.get_attribute("open") is None
    assert "2 unchanged files" in page.locator("#unchanged-files > summary").inner_text()
    shot = tmp_path / "commit-diff.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
