"""The report as a reader sees it: report.html and one country profile of the sample release opened from disk
(file://) in Debian's chromium through playwright. Every image loads, every internal link points to a file (and an
anchor) that exists, the console stays clean, and a screenshot of each page (its top 12,000 px) is kept in
tests/artifacts/.

Without /usr/bin/chromium the test is skipped, unless COP_REQUIRE_BROWSER=1 (CI sets it: .ci/run installs
chromium), in which case it fails.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from indicators.report import PROFILES_DIR, REPORT_FILE

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
PROFILE = "KEN"  # a country with survey, ICT and incident series


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is absent (Debian package chromium); the report's browser test needs it"
        if os.environ.get("COP_REQUIRE_BROWSER") == "1":
            pytest.fail(f"COP_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


SCREENSHOT_MAX_PX = 12_000


def open_page(browser, path: Path, screenshot: str):
    """Load a page from disk; return (playwright page, console errors and page errors, failed requests)."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("console", lambda message: problems.append(f"console {message.type}: {message.text}")
            if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("requestfailed", lambda request: problems.append(f"request failed: {request.url}"))
    page.goto(path.as_uri(), wait_until="load")
    ARTIFACTS.mkdir(exist_ok=True)
    # the top of the page, at most SCREENSHOT_MAX_PX tall: a full-page capture of the ~96,000 px report takes
    # 17 MB and can leave chromium unable to capture the next page ("Unable to capture screenshot")
    height = min(page.evaluate("() => document.documentElement.scrollHeight"), SCREENSHOT_MAX_PX)
    page.screenshot(path=str(ARTIFACTS / screenshot), full_page=True,
                    clip={"x": 0, "y": 0, "width": 1280, "height": height})
    return page, problems


def check_page(page, path: Path, problems: list[str]) -> None:
    images = page.evaluate("""() => Array.from(document.images).map(i => ({
        src: i.getAttribute('src'), loaded: i.complete && i.naturalWidth > 0}))""")
    broken = [i["src"] for i in images if not i["loaded"]]
    assert not broken, f"{path.name}: images that did not load: {broken}"
    links = page.evaluate("() => Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href'))")
    assert links, f"{path.name}: no links"
    for href in links:
        parts = urlsplit(href)
        assert not parts.scheme and not parts.netloc, f"{path.name}: {href} leaves the release"
        target = (path.parent / unquote(parts.path)) if parts.path else path
        assert target.is_file(), f"{path.name}: link {href} points to a missing file"
        if parts.fragment and target == path:
            found = page.evaluate("id => document.getElementById(id) !== null", unquote(parts.fragment))
            assert found, f"{path.name}: link {href}: no element with that id"
    assert not problems, f"{path.name}: " + "; ".join(problems)


def test_report_page_in_chromium(full_sample_build, browser):
    release, _ = full_sample_build
    path = release / REPORT_FILE
    page, problems = open_page(browser, path, "report.png")
    try:
        check_page(page, path, problems)
        assert page.evaluate("document.images.length") >= 2
        assert page.title().startswith("COP indicators: report")
    finally:
        page.close()


def test_country_profile_in_chromium(full_sample_build, browser):
    release, _ = full_sample_build
    path = release / PROFILES_DIR / f"{PROFILE}.html"
    page, problems = open_page(browser, path, f"profile_{PROFILE}.png")
    try:
        check_page(page, path, problems)
        # the link back to the report works in the browser, to the anchor it names
        page.click(f"a[href='../{REPORT_FILE}#how-to-read']")
        page.wait_for_load_state("load")
        assert page.url.endswith(f"/{REPORT_FILE}#how-to-read")
        assert page.evaluate("document.getElementById('how-to-read') !== null")
    finally:
        page.close()
