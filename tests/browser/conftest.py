"""A real browser against the live app: Playwright for Python driving Debian's Chromium.

`playwright install` cannot download browsers here, so the system's chromium is launched
(`TRADE_LABS_CHROMIUM`, else `chromium` on the PATH). Without one the tests are skipped with
the reason, except under CI=true, where a missing browser is a failure: CI installs it.
Screenshots of the main pages at 1366x768 go to tests/browser/screenshots/ (ignored by git).
"""

import os
import shutil
from pathlib import Path

import pytest

SCREENSHOTS = Path(__file__).parent / "screenshots"
VIEWPORT = {"width": 1366, "height": 768}


def _chromium() -> str | None:
    return os.environ.get("TRADE_LABS_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def _unavailable(reason: str):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"browser tests cannot run under CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser(django_db_setup, django_db_blocker):
    """Chromium for one module's tests. Playwright's sync API keeps an event loop on this thread
    while it runs, so the ORM calls the tests make between page actions are allowed beside it
    (the test database exists before it starts), and it stops before other modules run."""
    executable = _chromium()
    if executable is None:
        _unavailable("no chromium found (apt-get install -y chromium, or set TRADE_LABS_CHROMIUM)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -r requirements-dev.txt)")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox", "--disable-gpu"])
            yield launched
            launched.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


class Watched:
    """A page whose console errors, page errors and failed or 4xx/5xx requests are collected."""

    def __init__(self, page, base_url: str):
        self.page = page
        self.base_url = base_url
        self.problems: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text[:200]}"))
        page.on("pageerror", lambda e: self.problems.append(f"page error: {str(e)[:200]}"))
        page.on("requestfailed", lambda r: self.problems.append(f"request failed: {r.url}"))
        page.on("response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"))

    def open(self, path: str):
        response = self.page.goto(self.base_url + path)
        self.page.wait_for_load_state("networkidle")
        return response

    def shot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(exist_ok=True)
        target = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(target))
        return target

    def stylesheets_applied(self) -> bool:
        """The admin's CSS is in effect: its header has a background colour and is not the browser's default."""
        colour = self.page.evaluate("getComputedStyle(document.querySelector('#header')).backgroundColor")
        return colour not in ("", "rgba(0, 0, 0, 0)", "transparent")


@pytest.fixture
def signed_in(browser, live_server, django_user_model):
    django_user_model.objects.create_superuser("operator", "operator@example.com", "a long test password")
    context = browser.new_context(viewport=VIEWPORT)
    watched = Watched(context.new_page(), live_server.url)
    watched.open("/admin/login/?next=/admin/")
    watched.page.fill("#id_username", "operator")
    watched.page.fill("#id_password", "a long test password")
    watched.page.click("input[type=submit]")
    watched.page.wait_for_load_state("networkidle")
    yield watched
    context.close()
