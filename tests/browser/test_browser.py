"""The docs site as its readers see it: every page in headless Chromium, at two widths.

The site is built strictly, served from a local HTTP server, and opened in Chromium with every
host but the local one unresolvable, so a page that needs the internet (a diagram library from
a CDN) fails here as it would on an intranet. Each page must load without a console error, link
only to pages and anchors that exist, render every Mermaid diagram to an SVG, fit its main
content in 1280 and 390 CSS pixels, and give every code block a copy button. Screenshots of the
pages a new user reads first go to ``MEDGEN_SCREENSHOT_DIR`` (default ``site-screenshots/``),
which CI uploads.

Chromium and its driver come from Debian (``scripts/browser_deps.sh`` installs them); without
them the test skips, unless ``MEDGEN_REQUIRE_BROWSER=1`` or ``CI=true``, where it fails.
"""

from __future__ import annotations

import base64
import functools
import http.server
import json
import os
import re
import shutil
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
WIDTHS = (1280, 390)
SCREENSHOTS = {
    "": "home",
    "getting-started/": "getting-started",
    "data-dictionary/": "data-dictionary",
}

pytestmark = pytest.mark.slow


def _browser_missing(reason: str) -> None:
    if os.environ.get("MEDGEN_REQUIRE_BROWSER") == "1" or os.environ.get("CI") == "true":
        pytest.fail(reason + " (MEDGEN_REQUIRE_BROWSER=1 or CI=true: run scripts/browser_deps.sh)")
    pytest.skip(reason)


def _executable(env: str, *names: str, extra_dirs: tuple[str, ...] = ()) -> str | None:
    if os.environ.get(env):
        return os.environ[env]
    for name in names:
        found = shutil.which(name)
        if found:
            return found
        for folder in extra_dirs:
            candidate = Path(folder) / name
            if candidate.is_file():
                return str(candidate)
    return None


# -- the site and its server ------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(docs_site: Path) -> Path:
    return docs_site


@pytest.fixture(scope="module")
def base_url(site: Path) -> Iterator[str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def pages(site: Path) -> list[str]:
    """Every page of the site, as a path relative to its root ('' is the home page)."""
    found = []
    for index in sorted(site.rglob("index.html")):
        relative = index.parent.relative_to(site).as_posix()
        if relative.startswith(("assets", "search")) or relative == "404":
            continue
        found.append("" if relative == "." else relative + "/")
    return found


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        del tag
        for name, value in attrs:
            if name in ("id", "name") and value:
                self.ids.add(value)


@functools.cache
def ids_of(path: Path) -> frozenset[str]:
    parser = _Ids()
    parser.feed(path.read_text(encoding="utf-8"))
    return frozenset(parser.ids)


def target_file(site: Path, path: str) -> Path | None:
    """The file the local server would answer ``path`` with, if any."""
    candidate = site / unquote(path).lstrip("/")
    if candidate.is_dir():
        candidate = candidate / "index.html"
    return candidate if candidate.is_file() else None


# -- the browser ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _browser_missing("selenium is not installed")
        raise
    binary = _executable("MEDGEN_CHROMIUM", "chromium", "chromium-browser", "google-chrome")
    driver_dir = (os.environ["CHROMEWEBDRIVER"],) if os.environ.get("CHROMEWEBDRIVER") else ()
    driver_path = _executable("MEDGEN_CHROMEDRIVER", "chromedriver", extra_dirs=driver_dir)
    if binary is None or driver_path is None:
        _browser_missing("Chromium or chromedriver is not installed")
        raise AssertionError("unreachable")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in (
        "--headless=new",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        # Offline, as on an intranet: only the local server resolves.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        f"--window-size={WIDTHS[0]},900",
    ):
        options.add_argument(argument)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        options.add_argument("--no-sandbox")  # Chromium refuses to run as root with its sandbox
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


_SETTLE = """
const done = arguments[arguments.length - 1];
const start = Date.now();
(function wait() {
  const pending = document.querySelectorAll("pre.mermaid").length;
  if ((document.readyState === "complete" && pending === 0) || Date.now() - start > 20000) {
    document.fonts.ready.then(() => done(pending));
  } else {
    setTimeout(wait, 50);
  }
})();
"""
"""Material replaces each ``pre.mermaid`` by a ``div.mermaid`` once Mermaid has drawn it."""

_LAYOUT = r"""
const article = document.querySelector("article.md-content__inner");
const content = document.querySelector(".md-content");
const limit = Math.min(document.documentElement.clientWidth, content.getBoundingClientRect().right);
const overflowing = [];
// What sticks out of the content column and is not inside a box that scrolls or clips it.
(function walk(element) {
  for (const child of element.children) {
    const box = child.getBoundingClientRect();
    if (box.width > 0 && box.right > limit + 1) {
      const name = `${child.tagName.toLowerCase()}.${child.className}`;
      overflowing.push(`${name} ends at ${Math.round(box.right)} px`);
    }
    if (getComputedStyle(child).overflowX === "visible") walk(child);
  }
})(article);
const code = [...article.querySelectorAll("pre > code")];
// A list item that Markdown did not see as one runs on in the text before it.
const runOn = [...article.querySelectorAll("p, li")]
  .map(e => e.textContent.replace(/\s+/g, " "))
  .filter(t => /[.:;] (\d{1,2}\.|-) [A-Za-z*`]/.test(t))
  .map(t => t.match(/.{0,40}[.:;] (\d{1,2}\.|-) [A-Za-z*`].{0,20}/)[0]);
const scrolling = [...article.querySelectorAll(".md-typeset__scrollwrap")]
  .filter(w => w.scrollWidth > w.clientWidth + 1)
  .map(w => w.querySelector("th, td")?.textContent.trim().slice(0, 40));
return {
  runOn: runOn,
  scrollingTables: scrolling,
  viewport: document.documentElement.clientWidth,
  page: document.documentElement.scrollWidth,
  limit: Math.round(limit),
  overflowing: overflowing.slice(0, 5),
  codeBlocks: code.length,
  uncopyable: code.filter(c => !c.parentElement.querySelector(
      'button[data-md-type="copy"], button.md-clipboard')).map(c => c.textContent.slice(0, 60)),
  links: [...document.querySelectorAll("a[href]")].map(a => a.href),
  mermaidSources: document.querySelectorAll("pre.mermaid, .mermaid > code").length,
  mermaidBoxes: [...document.querySelectorAll("div.mermaid")]
    .map(d => d.getBoundingClientRect().height),
  resources: performance.getEntriesByType("resource").map(r => r.name),
};
"""


def _shadow_svgs(browser: Any) -> list[str]:
    """The SVG roles inside each Mermaid box: Material draws into a closed shadow root, which
    only the DevTools protocol can see into."""
    tree = browser.execute_cdp_cmd("DOM.getDocument", {"depth": -1, "pierce": True})
    roles: list[str] = []

    def walk(node: dict[str, Any], in_mermaid: bool) -> None:
        attrs = node.get("attributes", [])
        pairs = dict(zip(attrs[::2], attrs[1::2], strict=True))
        here = in_mermaid or "mermaid" in pairs.get("class", "").split()
        if node.get("nodeName") == "svg" and in_mermaid:
            roles.append(pairs.get("aria-roledescription", "svg"))
            return
        for child in (*node.get("children", []), *node.get("shadowRoots", [])):
            walk(child, here)

    walk(tree["root"], False)
    return roles


def _console_errors(browser: Any) -> list[str]:
    return [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def _screenshot(browser: Any, path: Path) -> None:
    metrics = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics["cssContentSize"]
    shot = browser.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        },
    )
    path.write_bytes(base64.b64decode(shot["data"]))


def test_every_page_renders_in_chromium(site: Path, base_url: str, browser: Any) -> None:
    shots = Path(os.environ.get("MEDGEN_SCREENSHOT_DIR", ROOT / "site-screenshots"))
    shots.mkdir(parents=True, exist_ok=True)
    every = pages(site)
    assert {"", "getting-started/", "data-dictionary/", "cli/"} <= set(every)
    problems: list[str] = []
    diagrams = 0
    for width in WIDTHS:
        # A window cannot be made narrower than 500 px; the page must see exactly this width.
        browser.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600},
        )
        for page in every:
            url = base_url + page
            where = f"{page or 'home'} at {width} px"
            browser.get_log("browser")  # drop what the previous page logged
            browser.get(url)
            left_raw = browser.execute_async_script(_SETTLE)
            layout = browser.execute_script(_LAYOUT)
            problems += [f"{where}: console error {e}" for e in _console_errors(browser)]
            assert layout["viewport"] == width, f"{where}: the page sees {layout['viewport']} px"
            if left_raw or layout["mermaidSources"]:
                problems.append(f"{where}: a Mermaid diagram is left as source")
            roles = _shadow_svgs(browser) if layout["mermaidBoxes"] else []
            if len(roles) != len(layout["mermaidBoxes"]):
                problems.append(
                    f"{where}: {len(layout['mermaidBoxes'])} diagrams, {len(roles)} SVGs"
                )
            problems += [f"{where}: Mermaid drew an error" for r in roles if r == "error"]
            problems += [f"{where}: an empty diagram" for h in layout["mermaidBoxes"] if h < 20]
            diagrams += len(roles)
            if layout["page"] > layout["viewport"] + 1:
                problems.append(
                    f"{where}: the page is {layout['page']} px wide in a {layout['viewport']} "
                    "px window"
                )
            problems += [
                f"{where}: {o}, past the content's {layout['limit']} px"
                for o in layout["overflowing"]
            ]
            problems += [f"{where}: no copy button on {c!r}" for c in layout["uncopyable"]]
            problems += [f"{where}: a list runs into its paragraph: {t!r}" for t in layout["runOn"]]
            if width == WIDTHS[0]:
                problems += [
                    f"{where}: table starting {t!r} is too wide to read without scrolling"
                    for t in layout["scrollingTables"]
                ]
            outside = [r for r in layout["resources"] if not r.startswith(base_url)]
            problems += [f"{where}: fetched {r} from outside the site" for r in outside]
            if width == WIDTHS[0]:
                problems += _broken_links(site, base_url, page, layout["links"])
                if page in SCREENSHOTS:
                    _screenshot(browser, shots / f"{SCREENSHOTS[page]}-{width}.png")
            elif page in SCREENSHOTS:
                _screenshot(browser, shots / f"{SCREENSHOTS[page]}-{width}.png")
    assert not problems, "\n".join(problems)
    assert diagrams >= 2 * len(WIDTHS), "the site should show its diagrams"
    (shots / "pages.json").write_text(json.dumps(every, indent=1), encoding="utf-8")


def _broken_links(site: Path, base_url: str, page: str, links: list[str]) -> list[str]:
    problems = []
    for link in sorted(set(links)):
        if not link.startswith(base_url):
            continue
        parts = urlsplit(link)
        target = target_file(site, parts.path)
        if target is None:
            problems.append(f"{page or 'home'}: link to missing {parts.path}")
            continue
        if parts.fragment and target.suffix == ".html":
            fragment = unquote(parts.fragment)
            if fragment not in ids_of(target) and not re.fullmatch(r"__\w+", fragment):
                problems.append(
                    f"{page or 'home'}: link to missing anchor {link[len(base_url) - 1:]}"
                )
    return problems


def test_pages_found(site: Path) -> None:
    """The page walk sees every page of the nav, so the browser test covers them all."""
    every = pages(site)
    assert len(every) >= 12
    assert all(target_file(site, "/" + p) for p in every)
    assert target_file(site, "/no/such/page/") is None
