"""Real-browser tests: headless Chromium (Debian's) driven by Playwright's Python package.

They are slow (a fresh virtual environment, a JupyterLab server, a browser), so a plain
``pytest`` skips this folder. They run when it is asked for by name
(``pytest tests/browser``, which ``make test-browser`` does) or when
``NNLIB_BROWSER_TESTS=1`` is set. Screenshots of every state go to ``build/browser/``.

Fixtures here: the Chromium path, a free port, a browser, pages that record every request
(and refuse any request that leaves localhost), a static file server, and ``LabServer``,
a ``jupyter lab`` process that is always shut down, even when a test fails.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from browser_support import ARTIFACTS, CHROMIUM_ARGS, ENABLE_VAR, HERE, ROOT, TIMINGS


def _requested(config) -> bool:
    """True when the browser tests should be collected in this run."""
    if os.environ.get(ENABLE_VAR, "") not in ("", "0"):
        return True
    for arg in config.args:  # named on the command line (make test-browser does this)
        path = Path(str(arg).split("::")[0]).resolve()
        if path == HERE or HERE in path.parents:
            return True
    return False


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "browser: drives headless Chromium (make test-browser; slow, needs chromium)"
    )


def pytest_ignore_collect(collection_path, config):
    if collection_path.name.startswith("test_") and not _requested(config):
        return True
    return None


def pytest_terminal_summary(terminalreporter):
    if TIMINGS:
        terminalreporter.section("browser tests: where the time went")
        for name, seconds in TIMINGS.items():
            terminalreporter.write_line(f"{name:<44} {seconds:7.1f} s")
        terminalreporter.write_line(f"screenshots: {ARTIFACTS.relative_to(ROOT)}/")


# ---- browser ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """``build/browser/``, emptied once per session so no screenshot outlives its run."""
    if ARTIFACTS.is_dir():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    TIMINGS.clear()
    return ARTIFACTS


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).is_file():
        pytest.fail(
            f"Chromium not found at {path}: install Debian's package (apt-get install chromium) "
            "or set CHROMIUM=/path/to/chromium; `make test-browser` installs it when run as root"
        )
    return path


@pytest.fixture(scope="session")
def browser(chromium_path):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the playwright package is missing: .venv/bin/pip install playwright")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Let fixtures know whether the test itself failed (for a failure screenshot)."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        item.rep_call_failed = True
