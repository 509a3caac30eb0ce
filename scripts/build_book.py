"""Build the self-study book: execute the solution notebooks and write a static HTML site.

``make book`` runs ``python scripts/build_book.py --out build/book``. The site works offline,
opened straight from disk: every figure is embedded in its page as a data URI, and the math is
typeset by a copy of MathJax 2 taken from the ``jupyter-server-mathjax`` package and placed next to
the pages. Layout of the output folder::

    index.html                    the notebooks in course order
    glossary.html                 the lecture's terms the course uses, linked from their first use
    01_linear_classifiers.html    one page per notebook, with outputs, previous/next links
    ...
    notebooks/<NN_name>.ipynb     the executed notebooks (for download, and for the tests)
    mathjax/                      MathJax, with the book's configuration in config/local/

Each notebook runs in a fresh kernel with the solution folder as working directory. A cell that
raises stops the build with the notebook, the cell and the error: the book never shows a broken
cell. Progress bars are rendered as text (the book has no live widgets).
"""

from __future__ import annotations

import argparse
import html
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from book_glossary import TERMS, link_first_uses

from nnlib.presubmit import skip_iri_grammar
from nnlib.tasks import NOTEBOOKS

skip_iri_grammar()  # seconds of an optional import nbformat would make (see there)
import nbformat  # noqa: E402  (after skip_iri_grammar)

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "solutions"
TITLE = "Manual Neural Networks"
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,local/nnlib-book"
_MARKER = re.compile(r"^\s*### (BEGIN|END) (SOLUTION|HIDDEN TESTS)\s*$")

# Run in the kernel before the notebook's first cell (and removed from the page afterwards): text
# progress bars on stdout instead of widgets, which a static page cannot show.
_SETUP_CELL = """\
import functools as _functools, sys as _sys
import tqdm.auto as _tqdm_auto, tqdm.std as _tqdm_std
_tqdm_auto.tqdm = _functools.partial(_tqdm_std.tqdm, file=_sys.stdout, ncols=100, mininterval=1.0)
"""

# MathJax 2 as jupyter-server-mathjax ships it: the combined configuration
# TeX-AMS-MML_HTMLorMML-full (TeX input, HTML-CSS output) and the STIX-Web web fonts, which are the
# only fonts in the package; this file, loaded after it, points HTML-CSS at them.
_MATHJAX_JS = """\
MathJax.Hub.Config({
  "HTML-CSS": {availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null},
  tex2jax: {
    inlineMath: [["$", "$"], ["\\\\(", "\\\\)"]],
    displayMath: [["$$", "$$"], ["\\\\[", "\\\\]"]],
    processEscapes: true,
    processEnvironments: true
  },
  messageStyle: "none",
  // The hidden accessibility copy of each formula asks for TeX fonts the bundle lacks.
  menuSettings: {assistiveMML: false}
});
MathJax.Ajax.loadComplete("[MathJax]/config/local/nnlib-book.js");
"""

_BOOK_CSS = """\
nav.book-nav { display: flex; justify-content: space-between; gap: 1em; max-width: 1100px;
  margin: 0.5em auto; padding: 0.6em 1em; font: 15px/1.4 sans-serif;
  border: 1px solid #ddd; border-radius: 6px; background: #fafafa; }
nav.book-nav a { text-decoration: none; }
nav.book-nav span.empty { visibility: hidden; }
"""

# Extends nbconvert's "lab" page: no require.js or mermaid from a CDN (the book has no widgets
# and no diagrams), and the book's navigation at the top and bottom of every page.
_TEMPLATE = """\
{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_css -%}<style type="text/css">{{ resources.book_css }}</style>{%- endblock -%}
{%- block body_header -%}{{ super() }}{{ resources.book_nav }}{%- endblock body_header -%}
{% block body_footer %}{{ resources.book_nav }}{{ super() }}{% endblock body_footer %}
"""

_INDEX = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{title}</title>
<script type="text/javascript" src="mathjax/MathJax.js?config={mathjax_config}"></script>
<style type="text/css">
body {{ max-width: 860px; margin: 2em auto; padding: 0 1em; font: 16px/1.55 sans-serif;
  color: #222; }}
ol.chapters li {{ margin: 0.9em 0; }}
ol.chapters a {{ font-size: 1.15em; font-weight: 600; text-decoration: none; }}
ol.chapters div.blurb {{ margin: 0.3em 0; color: #444; }}
ol.chapters div.blurb p {{ margin: 0; }}
footer {{ margin-top: 3em; color: #777; font-size: 0.9em; }}
</style>
</head>
<body>
<h1>{title}</h1>
<p>Neural networks by hand, in numpy: from linear classifiers to two-layer networks with
hand-derived gradients, to backpropagation through any number of layers, and how fast it all
runs. These pages are the course's solution notebooks, executed, with every output and figure.
Read them in order; each one starts with its learning goals and ends with a summary. The library
they call is <code>nnlib</code> (<code>src/nnlib/</code> in the repository).</p>
<ol class="chapters">
{items}
</ol>
<p>Words of the lecture that the course uses are linked, where they first appear, to the
<a href="glossary.html">glossary</a>.</p>
<footer>Built {built} from <code>solutions/</code>. The executed notebooks:
{downloads}.</footer>
</body>
</html>
"""


class BookError(RuntimeError):
    """The book could not be built; the message says which notebook and why."""


def mathjax_source() -> Path:
    """The folder of MathJax static files shipped by ``jupyter-server-mathjax``."""
    try:
        import jupyter_server_mathjax
    except ImportError as exc:
        raise BookError(
            "the book needs the package jupyter-server-mathjax for offline math "
            "(pip install jupyter-server-mathjax)"
        ) from exc
    static = Path(jupyter_server_mathjax.__file__).resolve().parent / "static"
    if not (static / "MathJax.js").is_file():
        raise BookError(f"jupyter-server-mathjax is installed but {static}/MathJax.js is missing")
    return static


def copy_mathjax(out: Path) -> None:
    """Copy MathJax next to the pages and add the book's configuration file."""
    target = out / "mathjax"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(mathjax_source(), target)
    config = target / "config" / "local" / "nnlib-book.js"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(_MATHJAX_JS)


def strip_markers(nb) -> None:
    """Drop the nbgrader marker lines: the book shows solutions and tests as plain code."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            lines = cell.source.splitlines()
            cell.source = "\n".join(line for line in lines if not _MARKER.match(line))


def execute(nb, workdir: Path, name: str, timeout: int, env: dict | None = None):
    """Run ``nb`` in a fresh kernel; raise :class:`BookError` listing any cell that failed."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    setup = nbformat.v4.new_code_cell(_SETUP_CELL)
    setup.id = "book-setup"
    nb.cells.insert(0, setup)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=True,
        coalesce_streams=True,
        shutdown_kernel="immediate",  # the outputs are in; a graceful exit can hang 3 s
        resources={"metadata": {"path": str(workdir)}},
        # The kernel's own log, not the notebook's: without this, each kernel prints
        # ipykernel's warning that it talks over TCP unencrypted, here to this process on
        # localhost, six times in every `make course`. Its errors still show.
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
    )
    try:
        client.execute(**({"env": env} if env is not None else {}))
    except (CellTimeoutError, DeadKernelError) as exc:
        raise BookError(f"{name}: {type(exc).__name__}: {exc}") from exc
    finally:
        nb.cells.pop(0)
    errors = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                first_line = cell.source.splitlines()[0] if cell.source else ""
                errors.append(
                    f"  cell {index} ({first_line[:60]!r}): {output.ename}: {output.evalue}"
                )
    if errors:
        raise BookError(f"{name}: {len(errors)} cell(s) raised an error:\n" + "\n".join(errors))
    return nb


def notebook_title(nb, fallback: str) -> str:
    """The text of the notebook's first Markdown heading."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def notebook_blurb(nb) -> str:
    """The first paragraph after the title (Markdown), for the index page."""
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.lstrip().startswith("# "):
            paragraphs = [p.strip() for p in cell.source.split("\n\n")[1:] if p.strip()]
            return " ".join(paragraphs[0].split()) if paragraphs else ""
    return ""


def _nav(names: list[str], titles: dict[str, str], i: int) -> str:
    """Previous / contents / next links for page ``i``."""

    def link(j: int, text: str) -> str:
        if 0 <= j < len(names):
            return f'<a href="{names[j]}.html">{text}</a>'
        return '<span class="empty">-</span>'

    previous = link(i - 1, f"&larr; {html.escape(titles.get(names[i - 1], ''))}" if i > 0 else "")
    following = (
        link(i + 1, f"{html.escape(titles[names[i + 1]])} &rarr;")
        if i + 1 < len(names)
        else link(-1, "")
    )
    return f'<nav class="book-nav">{previous}<a href="index.html">Contents</a>{following}</nav>'


def render_page(nb, name: str, nav: str, template_dir: Path) -> str:
    """HTML of one executed notebook, with local MathJax and the book's navigation."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab",
        extra_template_paths=[str(template_dir)],
        template_file="book.html.j2",
        mathjax_url=f"mathjax/MathJax.js?config={MATHJAX_CONFIG}",
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    body, _ = exporter.from_notebook_node(
        nb,
        resources={"metadata": {"name": name}, "book_nav": nav, "book_css": _BOOK_CSS},
    )
    return body


_GLOSSARY = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>Glossary - {title}</title>
<script type="text/javascript" src="mathjax/MathJax.js?config={mathjax_config}"></script>
<style type="text/css">
body {{ max-width: 860px; margin: 2em auto; padding: 0 1em; font: 16px/1.55 sans-serif;
  color: #222; }}
dt {{ font-weight: 600; margin-top: 1em; }}
dd {{ margin-left: 1.5em; }}
dd.first {{ color: #666; font-size: 0.9em; }}
</style>
</head>
<body>
<p><a href="index.html">Contents</a></p>
<h1>Glossary</h1>
<p>The lecture's terms that this course uses, in our own words. Each links back to where the
course first uses it.</p>
<dl>
{entries}
</dl>
</body>
</html>
"""


def write_glossary(out: Path, first_uses: dict, titles: dict[str, str]) -> None:
    """Write ``glossary.html``: every term, its definition and a link to its first use."""
    entries = []
    for term in sorted(TERMS, key=lambda t: t.name.lower()):
        where = ""
        if term.slug in first_uses:
            name, _ = first_uses[term.slug]
            where = (
                f'<dd class="first">first used in <a href="{name}.html">'
                f"{html.escape(titles[name])}</a></dd>"
            )
        entries.append(
            f'<dt id="{term.slug}">{html.escape(term.name)}</dt>'
            f"<dd>{html.escape(term.definition)}</dd>{where}"
        )
    (out / "glossary.html").write_text(
        _GLOSSARY.format(title=TITLE, mathjax_config=MATHJAX_CONFIG, entries="\n".join(entries)),
        encoding="utf-8",
    )


def build(
    out: Path,
    source: Path = SOURCE,
    names: tuple[str, ...] = NOTEBOOKS,
    timeout: int = 600,
    env: dict | None = None,
    log=print,
) -> dict[str, float]:
    """Execute every notebook and write the site to ``out``; return seconds per notebook."""
    source, out = Path(source), Path(out)
    paths = {name: source / name / f"{name}.ipynb" for name in names}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise BookError("source notebook(s) not found: " + ", ".join(missing))
    out.mkdir(parents=True, exist_ok=True)
    (out / "notebooks").mkdir(exist_ok=True)
    copy_mathjax(out)

    executed, titles, seconds = {}, {}, {}
    for name, path in paths.items():
        nb = nbformat.read(path, as_version=4)
        strip_markers(nb)
        log(f"executing {name}")
        start = time.perf_counter()
        execute(nb, path.parent, name, timeout, env)
        seconds[name] = time.perf_counter() - start
        log(f"  {seconds[name]:.1f} s")
        nbformat.write(nb, out / "notebooks" / f"{name}.ipynb")
        executed[name] = nb
        titles[name] = notebook_title(nb, name)

    first_uses = link_first_uses(executed)
    write_glossary(out, first_uses, titles)

    with tempfile.TemporaryDirectory() as template_dir:
        (Path(template_dir) / "book.html.j2").write_text(_TEMPLATE)
        for i, name in enumerate(names):
            page = render_page(
                executed[name], name, _nav(list(names), titles, i), Path(template_dir)
            )
            (out / f"{name}.html").write_text(page, encoding="utf-8")

    from nbconvert.filters.markdown import markdown2html

    items = "\n".join(
        f'<li><a href="{name}.html">{html.escape(titles[name])}</a>'
        f'<div class="blurb">{markdown2html(notebook_blurb(executed[name]))}</div></li>'
        for name in names
    )
    downloads = ", ".join(f'<a href="notebooks/{name}.ipynb">{name}.ipynb</a>' for name in names)
    (out / "index.html").write_text(
        _INDEX.format(
            title=TITLE,
            items=items,
            downloads=downloads,
            mathjax_config=MATHJAX_CONFIG,
            built=time.strftime("%Y-%m-%d"),
        ),
        encoding="utf-8",
    )
    log(f"book written to {out / 'index.html'}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "book", help="output folder")
    parser.add_argument("--source", type=Path, default=SOURCE, help="nbgrader source folder")
    parser.add_argument(
        "--timeout", type=int, default=600, help="seconds one cell may run (default 600)"
    )
    args = parser.parse_args(argv)
    try:
        build(args.out, args.source, timeout=args.timeout, env=dict(os.environ))
    except BookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
