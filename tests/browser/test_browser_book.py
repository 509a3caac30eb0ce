"""The self-study book as a reader sees it, in headless Chromium.

The built book (``make book`` → ``build/book/``) is served from a localhost static server.
The index and every notebook page it links to are opened; on each: every image has loaded,
the LaTeX became MathJax markup with no raw ``$$`` or TeX commands left in the text, every
link between pages leads somewhere, and no request left localhost (all requests are recorded;
any other host fails the test). Screenshots land in ``build/browser/book-*.png``.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

import pytest
from browser_support import ROOT, RequestLog, new_recorded_context, static_server, timed

from nnlib.tasks import NOTEBOOKS

pytestmark = pytest.mark.browser

BOOK = Path(os.environ.get("NNLIB_BOOK_DIR") or ROOT / "build" / "book")  # `make book` writes it

# Wait for MathJax (2 or 3) to finish typesetting; resolves to the version, or null if the
# page loads no MathJax at all.
MATHJAX_DONE_JS = """() => new Promise(resolve => {
    const mj = window.MathJax;
    if (!mj) return resolve(null);
    if (mj.startup && mj.startup.promise) return mj.startup.promise.then(() => resolve(3));
    if (mj.Hub && mj.Hub.Queue) return mj.Hub.Queue(() => resolve(2));
    resolve(null);
})"""

MATH_SELECTOR = "mjx-container, .MathJax, .MathJax_Display, .MathJax_CHTML, .MathJax_SVG"
MATH_ERROR_SELECTOR = "mjx-merror, .MathJax_Error, .merror, [data-mjx-error]"

# The reader-visible prose: the page's text without code, scripts, styles and the MathJax
# markup itself (MathJax 2 keeps each TeX source in a hidden <script type="math/tex">).
PROSE_JS = """() => {
    const body = document.body.cloneNode(true);
    body.querySelectorAll("pre, code, script, style, textarea, mjx-container, .MathJax, "
        + ".MathJax_Display, .MathJax_Preview, mjx-assistive-mml, .jp-OutputArea-output")
        .forEach(node => node.remove());
    return body.textContent;
}"""

IMAGES_JS = """async () => {
    const images = [...document.images];
    await Promise.all(images.map(img => img.decode().catch(() => null)));
    return images.map(img => ({src: img.src.slice(0, 80), w: img.naturalWidth,
                               h: img.naturalHeight, complete: img.complete}));
}"""

RAW_TEX = re.compile(
    r"\$\$|\\(frac|begin|end|mathbb|sum|partial|nabla|left|right)\b|\$[^$\s][^$]*\$"
)


@pytest.fixture(scope="module")
def book_url():
    if not (BOOK / "index.html").is_file():
        pytest.fail(f"no book at {BOOK}/index.html: run `make book` first")
    with static_server(BOOK) as url:
        yield url


@pytest.fixture
def reader(browser):
    log = RequestLog()
    context = new_recorded_context(browser, log)
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        yield page, log
    finally:
        context.close()


def local_links(page, base: str) -> list[str]:
    """Absolute URLs of the page's links that stay inside the book."""
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(a => a.href)")
    return sorted({h for h in hrefs if h.startswith(base)})


def check_page(page, log: RequestLog, url: str, shot: str, artifacts: Path) -> dict:
    """Open ``url`` and check images, math and the page's own requests; returns facts."""
    response = page.goto(url, wait_until="load")
    assert response is not None and response.ok, f"{url}: HTTP {response and response.status}"
    version = page.evaluate(MATHJAX_DONE_JS)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=artifacts / f"{shot}.png")

    images = page.evaluate(IMAGES_JS)
    broken = [i for i in images if not (i["complete"] and i["w"] > 0 and i["h"] > 0)]
    assert not broken, f"{url}: images that did not load: {broken}"

    math = page.locator(MATH_SELECTOR)
    errors = page.locator(MATH_ERROR_SELECTOR)
    assert errors.count() == 0, f"{url}: MathJax errors: {errors.first.inner_text()[:200]}"
    prose = page.evaluate(PROSE_JS)
    raw = sorted({m.group(0)[:40] for m in RAW_TEX.finditer(prose)})
    assert not raw, f"{url}: LaTeX left unrendered in the text: {raw[:10]}"
    if images:
        page.locator("img").first.scroll_into_view_if_needed()
        time.sleep(0.2)
        page.screenshot(path=artifacts / f"{shot}-first-image.png")
    if math.count():
        display = page.locator(".MathJax_Display, mjx-container[display='true']")
        (display if display.count() else math).first.scroll_into_view_if_needed()
        time.sleep(0.2)
        page.screenshot(path=artifacts / f"{shot}-math.png")
    return {"mathjax": version, "math": math.count(), "images": len(images)}


def check_links(page, links: list[str]) -> list[str]:
    """Every in-book link answers 200, and its #fragment (if any) names an element there."""
    bad = []
    for link in links:
        target, fragment = urldefrag(link)
        response = page.request.get(target)
        if not response.ok:
            bad.append(f"{link}: HTTP {response.status}")
            continue
        if fragment and target.endswith(".html"):
            text = response.text()
            if f'id="{fragment}"' not in text and f'name="{fragment}"' not in text:
                bad.append(f"{link}: no element with id {fragment!r}")
    return bad


def test_book_renders_offline_with_working_links(reader, book_url, artifacts):
    page, log = reader
    with timed("book: index"):
        facts = {"index.html": check_page(page, log, book_url, "book-0-index", artifacts)}
        pages = [
            link
            for link in local_links(page, book_url)
            if urlsplit(link).path.endswith(".html") and not link.endswith("/index.html")
        ]
        pages = sorted({urldefrag(p)[0] for p in pages} - {book_url + "glossary.html"})
        # The glossary has math but no plots: its own check (its links are checked below).
        facts["glossary.html"] = check_page(
            page, log, book_url + "glossary.html", "book-0-glossary", artifacts
        )
        assert facts["glossary.html"]["math"] > 0, "the glossary's math was not typeset"
        bad_glossary_links = check_links(page, local_links(page, book_url))
    linked = [p.rsplit("/", 1)[-1].removesuffix(".html") for p in pages]
    assert linked == sorted(NOTEBOOKS), f"the index should link every notebook once: {linked}"

    with timed("book: click from the index to the first page"):
        first = pages[0]
        name = first.rsplit("/", 1)[-1]
        page.locator(f"a[href='{name}']").first.click()
        page.wait_for_url(first)
        assert page.title(), f"{first}: the page has no title"

    bad_links: list[str] = []
    with timed(f"book: {len(pages)} notebook pages"):
        for k, url in enumerate(pages, start=1):
            stem = url.rsplit("/", 1)[-1].removesuffix(".html")
            facts[stem] = check_page(page, log, url, f"book-{k}-{stem}", artifacts)
            assert facts[stem]["math"] > 0, f"{url}: no rendered math on a notebook page"
            assert facts[stem]["images"] > 0, f"{url}: a notebook page without a single plot"
            links = local_links(page, book_url)
            bad_links += check_links(page, links)
            back = [link for link in links if link in (book_url, book_url + "index.html")]
            assert back, f"{url}: no link back to the index"

    bad_links += bad_glossary_links
    assert not bad_links, "broken links:\n" + "\n".join(bad_links)
    assert not log.external, f"requests left localhost: {log.external_hosts()} {log.external[:5]}"
    assert not log.failed, f"failed requests: {log.failed[:10]}"
    assert not log.page_errors, f"JavaScript errors: {log.page_errors[:5]}"


def test_book_page_opens_straight_from_disk(reader, artifacts):
    """The book promises to work opened as a file, with no server at all."""
    page, log = reader
    pages = sorted(BOOK.glob("[0-9][0-9]_*.html"))
    assert pages, f"no notebook pages in {BOOK}: run `make book` first"
    with timed("book: one page from file://"):
        facts = check_page(page, log, pages[0].as_uri(), "book-file-01", artifacts)
    assert facts["math"] > 0 and facts["images"] > 0, facts
    outside = [u for u in log.urls if u.startswith("file:") and not u.startswith(BOOK.as_uri())]
    assert not outside, f"the page reads files outside the book: {outside[:5]}"
    assert not log.external, f"requests left the machine: {log.external_hosts()}"
    assert not log.failed, f"failed requests: {log.failed[:10]}"
    assert not log.page_errors, f"JavaScript errors: {log.page_errors[:5]}"
