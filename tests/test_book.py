"""The self-study book: pages, links, embedded figures, local math.

The book is built once per session by ``scripts/build_book.py`` (see ``tests/_notebook_runs.py``,
which shares the build with tests/test_notebooks.py).
"""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest
from _notebook_runs import NOTEBOOKS, build_book, course_runs

PAGES = ["index", "glossary", *NOTEBOOKS]


class _Page(HTMLParser):
    """Collects the links, sources, ids and images of one HTML page."""

    def __init__(self):
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.ids: set[str] = set()
        self.images: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        for attribute in ("href", "src"):
            if attrs.get(attribute):
                self.refs.append((tag, attribute, attrs[attribute]))
        if tag == "img":
            self.images.append(attrs.get("src", ""))


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    runs = course_runs(tmp_path_factory)
    assert runs.book_run.returncode == 0, runs.book_run.output[-3000:]
    return runs.book


def test_the_build_prints_no_kernel_transport_warning(book, tmp_path_factory):
    # ipykernel warns at each kernel's start that it runs over TCP without encryption
    output = course_runs(tmp_path_factory).book_run.output
    assert "without encryption" not in output, output[-2000:]


def test_every_page_exists(book):
    for page in PAGES:
        path = book / f"{page}.html"
        assert path.is_file() and path.stat().st_size > 1000, f"missing or empty page {path}"
    for name in NOTEBOOKS:
        assert (book / "notebooks" / f"{name}.ipynb").is_file()


def test_index_lists_the_notebooks_in_course_order(book):
    hrefs = [v for tag, a, v in _parse(book / "index.html").refs if tag == "a" and a == "href"]
    chapters = [h[: -len(".html")] for h in hrefs if h.endswith(".html")]
    assert [c for c in chapters if c != "glossary"] == list(NOTEBOOKS)
    assert "glossary" in chapters, "the index links to the glossary"


def test_pages_link_to_their_neighbours(book):
    for i, name in enumerate(NOTEBOOKS):
        hrefs = {v for tag, a, v in _parse(book / f"{name}.html").refs if tag == "a"}
        assert "index.html" in hrefs
        if i > 0:
            assert f"{NOTEBOOKS[i - 1]}.html" in hrefs
        if i + 1 < len(NOTEBOOKS):
            assert f"{NOTEBOOKS[i + 1]}.html" in hrefs


def test_every_link_resolves_and_nothing_comes_from_the_network(book):
    for page in PAGES:
        path = book / f"{page}.html"
        parsed = _parse(path)
        for tag, attribute, value in parsed.refs:
            where = f"{path.name}: <{tag} {attribute}={value[:80]!r}>"
            url = urlsplit(value)
            if url.scheme == "data":
                continue
            assert not url.scheme and not url.netloc, f"{where} points outside the book"
            if url.path:
                target = (path.parent / unquote(url.path)).resolve()
                assert target.exists(), f"{where}: {target} does not exist"
                assert book.resolve() in target.parents or target == book.resolve()
            elif url.fragment:
                # a browser tries the fragment as written, then percent-decoded
                assert {url.fragment, unquote(url.fragment)} & parsed.ids, f"{where}: no anchor"


def test_every_figure_is_embedded(book):
    for name in NOTEBOOKS:
        nb = nbformat.read(book / "notebooks" / f"{name}.ipynb", as_version=4)
        figures = sum(
            1
            for c in nb.cells
            if c.cell_type == "code"
            for o in c.outputs
            if "image/png" in o.get("data", {})
        )
        assert figures >= 3, f"{name}: every training result should be plotted"
        images = _parse(book / f"{name}.html").images
        embedded = [src for src in images if src.startswith("data:image/png;base64,")]
        assert len(embedded) == figures == len(images), (
            f"{name}: {figures} figures, {len(embedded)} embedded of {len(images)} images"
        )
        png = base64.b64decode(embedded[0].split(",", 1)[1])
        assert png.startswith(b"\x89PNG\r\n\x1a\n")


def test_math_is_typeset_by_a_local_mathjax(book):
    config = book / "mathjax" / "config" / "local" / "nnlib-book.js"
    assert config.is_file() and "STIX-Web" in config.read_text()
    for relative in (
        "MathJax.js",
        "config/TeX-AMS-MML_HTMLorMML-full.js",
        "jax/output/HTML-CSS/fonts/STIX-Web",
        "fonts/HTML-CSS/STIX-Web/woff",
        "extensions/TeX/AMSmath.js",
    ):
        assert (book / "mathjax" / relative).exists(), f"mathjax/{relative} missing"
    for page in PAGES:
        text = (book / f"{page}.html").read_text(encoding="utf-8")
        sources = re.findall(r'<script[^>]*src="([^"]+)"', text)
        mathjax = [s for s in sources if "MathJax.js" in s]
        assert mathjax == [f"mathjax/MathJax.js?config={build_book.MATHJAX_CONFIG}"], (
            f"{page}: {sources}"
        )
        if page not in ("index", "glossary"):
            assert "$$" in text or "\\begin" in text, f"{page}: no display math to typeset"


def test_progress_bars_are_text_not_widgets(book):
    text = (book / "03_two_layer_network.html").read_text(encoding="utf-8")
    assert "application/vnd.jupyter.widget-view+json" not in text
    # a finished bar: 30/30 epochs at full size, 5/5 in the suite's quick mode
    assert re.search(r"100%\|[^|]*\| (\d+)/\1\b", text), (
        "the digits training's finished progress bar"
    )


def test_glossary_defines_every_term_and_each_is_linked_from_its_first_use(book):
    from book_glossary import TERMS

    glossary = _parse(book / "glossary.html")
    slugs = {t.slug for t in TERMS}
    assert slugs <= glossary.ids, f"terms without an entry: {sorted(slugs - glossary.ids)}"
    linked: dict[str, list[str]] = {}
    for name in NOTEBOOKS:
        for tag, _, value in _parse(book / f"{name}.html").refs:
            url = urlsplit(value)
            if tag == "a" and url.path == "glossary.html":
                assert url.fragment in glossary.ids, f"{name}: link to a missing entry {value}"
                linked.setdefault(url.fragment, []).append(name)
    assert set(linked) == slugs, (
        f"terms never linked from the course (unused, or the pattern misses their first use): "
        f"{sorted(slugs - set(linked))}"
    )
    assert all(len(pages) == 1 for pages in linked.values()), f"linked more than once: {linked}"
    back = {v for tag, a, v in glossary.refs if tag == "a"}
    for slug, (page,) in linked.items():
        assert f"{page}.html" in back, f"the glossary should link {slug} back to {page}"


def test_glossary_links_outside_math_code_and_headings():
    from book_glossary import TERMS, link_first_uses

    text = "# A softmax heading\n\n$\\text{softmax}$ and `softmax` and then the softmax itself."
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text)])
    first = link_first_uses({"01_x": nb})
    assert first["softmax"] == ("01_x", 0)
    assert nb.cells[0].source.endswith("then the [softmax](glossary.html#softmax) itself."), (
        nb.cells[0].source
    )
    assert nb.cells[0].source.count("glossary.html") == 1
    assert len({t.slug for t in TERMS}) == len(TERMS), "two terms share an anchor"


def test_build_reports_a_missing_source(tmp_path):
    with pytest.raises(build_book.BookError, match="not found"):
        build_book.build(tmp_path / "book", source=tmp_path / "nowhere")
