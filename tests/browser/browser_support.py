"""Shared helpers of the browser tests: request recording, servers, timings.

Kept out of ``conftest.py`` so that test modules can import them by a unique name.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ARTIFACTS = ROOT / "build" / "browser"
ENABLE_VAR = "NNLIB_BROWSER_TESTS"
# Flags that keep Chromium off the network on a closed machine (see the machine notes);
# Playwright itself adds --headless, --no-sandbox and a fresh --user-data-dir.
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
VIEWPORT = {"width": 1440, "height": 1000}

TIMINGS: dict[str, float] = {}


@contextlib.contextmanager
def timed(name: str):
    """Record how long the block took under ``name`` (shown after the test session)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        TIMINGS[name] = time.perf_counter() - start
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "timings.json").write_text(json.dumps(TIMINGS, indent=2) + "\n")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---- a browser context that records its requests ------------------------------------------


@dataclass
class RequestLog:
    """Every request a browser context made; requests that leave localhost are blocked."""

    urls: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # HTTP status >= 400 or network failure
    page_errors: list[str] = field(default_factory=list)  # uncaught JavaScript exceptions

    def is_local(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about", "file"):
            return True
        return parts.hostname in LOCAL_HOSTS or f"[{parts.hostname}]" in LOCAL_HOSTS

    def external_hosts(self) -> list[str]:
        return sorted({urlsplit(url).netloc for url in self.external})


def new_recorded_context(browser, log: RequestLog):
    """A fresh browser context (own cookies and storage) whose requests land in ``log``."""
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)

    def route(route):
        url = route.request.url
        log.urls.append(url)
        if log.is_local(url):
            route.continue_()
        else:
            log.external.append(url)
            route.abort("blockedbyclient")

    def on_response(response):
        if response.status >= 400:
            log.failed.append(f"{response.status} {response.url}")

    def on_request_failed(request):
        if urlsplit(request.url).scheme in ("http", "https", "file") and log.is_local(request.url):
            log.failed.append(f"{request.failure} {request.url}")

    context.route("**/*", route)
    context.on("response", on_response)
    context.on("requestfailed", on_request_failed)
    context.on("weberror", lambda error: log.page_errors.append(str(error.error)))
    return context


# ---- a static file server (the book) ----------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@contextlib.contextmanager
def static_server(directory: Path):
    """Serve ``directory`` on a free localhost port; yields the base URL (ends with ``/``)."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="static-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# ---- a JupyterLab server ----------------------------------------------------------------


class LabServer:
    """``jupyter lab`` from a given virtual environment, on a free port, with a token.

    Use as a context manager: the server is asked to shut down through its REST API (which
    also stops its kernels), then terminated, then killed, whatever happened inside.
    """

    def __init__(self, venv: Path, cwd: Path, args: list[str], home: Path, log_path: Path):
        self.venv, self.cwd, self.args, self.home, self.log_path = venv, cwd, args, home, log_path
        self.port = free_port()
        self.token = os.urandom(16).hex()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def env(self) -> dict[str, str]:
        """An activated venv with its own HOME, so no user config leaks in or out."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "PYTHON"))}
        env.pop("MPLBACKEND", None)
        for sub in ("config", "data", "runtime"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        env.update(
            HOME=str(self.home),
            VIRTUAL_ENV=str(self.venv),
            PATH=f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
            JUPYTER_CONFIG_DIR=str(self.home / "config"),
            JUPYTER_DATA_DIR=str(self.home / "data"),
            JUPYTER_RUNTIME_DIR=str(self.home / "runtime"),
            JUPYTER_PLATFORM_DIRS="1",
        )
        return env

    def url(self, path: str = "lab", query: str = "") -> str:
        return f"{self.base}/{path.lstrip('/')}?{query + '&' if query else ''}token={self.token}"

    def api(self, method: str, path: str, body: dict | None = None, timeout: float = 10):
        request = urllib.request.Request(
            f"{self.base}/{path.lstrip('/')}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            text = response.read().decode()
        return json.loads(text) if text.strip() else None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> LabServer:
        command = [
            str(self.venv / "bin" / "jupyter"),
            "lab",
            *self.args,
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")  # CI runs as root; a student does not
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            command,
            cwd=self.cwd,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        try:
            self._wait_ready(timeout=90)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"jupyter lab exited with code {self.proc.returncode}:\n{self.log_tail()}"
                )
            with contextlib.suppress(OSError, urllib.error.URLError, ValueError):
                if self.api("GET", "api/status", timeout=2) is not None:
                    return
            time.sleep(0.3)
        raise TimeoutError(f"jupyter lab not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def shutdown_kernels(self) -> None:
        """Shut down every kernel session (between tests); errors are ignored."""
        with contextlib.suppress(OSError, urllib.error.URLError, ValueError):
            for session in self.api("GET", "api/sessions") or []:
                self.api("DELETE", f"api/sessions/{session['id']}", timeout=20)

    def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(OSError, urllib.error.URLError, ValueError):
            self.api("POST", "api/shutdown", timeout=10)
        for sig, wait in ((None, 15), (signal.SIGTERM, 10), (signal.SIGKILL, 10)):
            if sig is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, sig)  # the server and its kernels: its own session
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=wait)
                break

    def __exit__(self, *exc) -> None:
        self.stop()
