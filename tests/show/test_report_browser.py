"""Issue 41 (item 11): the HTML report opened in a real browser (headless Chromium through
Playwright, the browser from Debian's ``chromium`` package, which .ci/run installs). For a profile,
a comparison, a sweep and a track: the page loads with no console error and no network request,
every figure decodes and is visible, nothing overflows at 1280 px nor at a phone's 390 px, and a
screenshot of each is kept in ``test-output/report-screens/`` for a person to look at."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import EXAMPLE, EXAMPLE_IMAGES, EXAMPLE_RANDOM
from srop_onnx.cli import main

REPO = Path(__file__).resolve().parents[2]
SCREENS = REPO / "test-output" / "report-screens"
CHROMIUM = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium")
                 if p and Path(p).exists()), None)

sync_api = pytest.importorskip("playwright.sync_api", reason="needs the browser driver: pip install -e '.[browser]'")
if CHROMIUM is None:
    pytest.skip("needs headless Chromium (Debian's chromium package; .ci/run installs it)", allow_module_level=True)


def _run(*args):
    res = CliRunner().invoke(main, [str(a) for a in args])
    assert res.exit_code == 0, res.output
    return res


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    d = tmp_path_factory.mktemp("reports")
    _run("analyze", EXAMPLE, EXAMPLE_IMAGES, "-q", "--json", d / "a.json")
    _run("analyze", EXAMPLE_RANDOM, EXAMPLE_IMAGES, "-q", "--json", d / "b.json")
    _run("report", d / "a.json", "-o", d / "profile.html")
    _run("report", d / "a.json", d / "b.json", "-o", d / "comparison.html")
    _run("sweep", EXAMPLE, EXAMPLE_IMAGES, "--noise", "gaussian", "--levels", "0,0.5,1", "-q", "-o", d / "s.json")
    _run("report", d / "s.json", "-o", d / "sweep.html")
    (d / "ck").mkdir()
    shutil.copy(EXAMPLE, d / "ck" / "e0.onnx")
    shutil.copy(EXAMPLE_RANDOM, d / "ck" / "e1.onnx")
    _run("track", d / "ck", "--inputs", EXAMPLE_IMAGES, "-o", d / "track", "-q")
    _run("report", d / "track", "-o", d / "track.html")
    return d


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-quic"])
        yield b
        b.close()


CHECK = """() => {
  const imgs = [...document.images].map(i => {const r = i.getBoundingClientRect();
    return {decoded: i.complete && i.naturalWidth > 0, w: r.width, h: r.height,
            inside: r.right <= document.documentElement.clientWidth + 1}});
  const wide = [...document.querySelectorAll('body *')].filter(el => {
    const r = el.getBoundingClientRect(); let p = el.parentElement, scrolls = false;
    while (p) { if (getComputedStyle(p).overflowX === 'auto') { scrolls = true; break } p = p.parentElement }
    return !scrolls && r.right > document.documentElement.clientWidth + 1 }).map(el => el.tagName);
  return {imgs, wide, scrollW: document.documentElement.scrollWidth, clientW: document.documentElement.clientWidth};
}"""


@pytest.mark.parametrize("kind", ["profile", "comparison", "sweep", "track"])
def test_the_report_works_as_a_page_at_desktop_and_phone_widths(reports, browser, kind):
    page = browser.new_page()
    problems, requests = [], []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning")
            else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("request", lambda r: requests.append(r.url))
    page.goto((reports / f"{kind}.html").as_uri())
    page.wait_for_load_state("load")
    SCREENS.mkdir(parents=True, exist_ok=True)
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        state = page.evaluate(CHECK)
        assert state["imgs"], "no figure in the report"
        for img in state["imgs"]:
            assert img["decoded"] and img["w"] > 50 and img["h"] > 50 and img["inside"], (width, img)
        assert state["scrollW"] <= state["clientW"] + 1 and not state["wide"], (width, state["wide"][:5])
        page.screenshot(path=str(SCREENS / f"{kind}-{width}.png"), full_page=True)
    page.close()
    assert not problems, problems
    assert all(u.startswith(("file:", "data:")) for u in requests), [u for u in requests if not u.startswith("file:")]
