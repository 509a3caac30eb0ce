"""Read what a child wrote for one case, bounded before anything is read or allocated.

The child's output folder is untrusted: any of its parts may be a symlink, a FIFO, a device,
a hard link to another output, a file far larger than any answer, a ``.npy`` header that
declares a huge shape, or a ``meta.json`` nested thousands of levels deep. Every folder and
file is opened relative to its parent without following links and without blocking
(``O_NOFOLLOW | O_NONBLOCK``), its type and link count are checked with ``fstat`` before a
byte is read, reads are capped, an array's size is computed from its header before it is
allocated, and a budget bounds what one child's outputs may cost in total. A bound broken
gives the case an ``error`` that says which ("output too large: ..."), never an exception.
"""

from __future__ import annotations

import io
import json
import os
import re
import stat
from pathlib import Path

import numpy as np

CRASH = "crash: "
MAX_FILE_BYTES = 32 * 1024 * 1024
MAX_META_BYTES = 64 * 1024
MAX_META_DEPTH = 8
MAX_OUTPUTS = 64
MAX_DIMS = 8
MAX_NAME = 32
KINDS = {"U": "str", "S": "bytes", "O": "object", "c": "complex", "M": "datetime", "m": "timedelta"}
# Output names as the runner writes them: "return", "return.1.0.2", "arg2", "w.grad".
_NAME = re.compile(r"[a-z]+\d?(?:\.(?:[a-z]+\d?|\d{1,2}))*")
OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


class OutputError(Exception):
    """An output breaks a bound; the message is what the student reads."""


class Budget:
    """Bytes the parent still accepts from one child's outputs (all cases together)."""

    def __init__(self, total: int = 64 * 1024 * 1024):
        self.left = total

    def take(self, size: int, what: str) -> None:
        if size > self.left:
            raise OutputError(f"output too large: {what} would exceed what one run may return")
        self.left -= size


def _open_dir(parts, dir_fd=None) -> int:
    """Open a folder one part at a time, never following a link; return its fd."""
    fd = dir_fd
    for part in parts:
        try:
            new = os.open(part, OPEN_FLAGS | os.O_DIRECTORY, dir_fd=fd)
        finally:
            if fd is not None and fd != dir_fd:
                os.close(fd)
        fd = new
    return fd


def _read_file(dir_fd: int, name: str, limit: int, budget: Budget) -> bytes | None:
    """A regular, singly linked file's bytes, or ``None`` if it is absent.

    Raises
    ------
    OutputError
        If it is not a regular file, is a hard link, or is larger than ``limit``.
    """
    try:
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(info.st_mode):
        raise OutputError(f"{name} is not a regular file")
    try:
        fd = os.open(name, OPEN_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        raise OutputError(f"{name} cannot be opened: {exc.strerror}") from None
    try:
        info = os.fstat(fd)  # what was opened, not what was there a moment before
        if not stat.S_ISREG(info.st_mode):
            raise OutputError(f"{name} is not a regular file")
        if info.st_nlink != 1:
            raise OutputError(f"{name} is a hard link to another file")
        if info.st_size > limit:
            raise OutputError(f"output too large: {name} holds {info.st_size} bytes")
        budget.take(info.st_size, name)
        chunks, size = [], 0
        while chunk := os.read(fd, min(1 << 20, limit + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise OutputError(f"output too large: {name} grew while it was read")
        return b"".join(chunks)
    finally:
        os.close(fd)


def json_depth(raw: bytes) -> int:
    """The deepest nesting of ``[`` and ``{`` in a JSON text (strings skipped)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def parse_npy(data: bytes, name: str, limit: int = MAX_FILE_BYTES) -> np.ndarray:
    """A numeric array from ``.npy`` bytes; its size is checked against the header first.

    Raises
    ------
    OutputError
        If the bytes are not a numeric ``.npy`` whose header matches its data.
    """
    fmt = np.lib.format
    f = io.BytesIO(data)
    try:
        version = fmt.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(f, max_header_size=10000)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = fmt.read_array_header_2_0(f, max_header_size=10000)
        else:
            raise ValueError(f"version {version}")
    except Exception as exc:  # untrusted bytes (numpy's tokenize can raise TokenError, ...)
        # Not quoted: these reports are shown unmasked, and the header is the child's text.
        raise OutputError(f"{name} is not a valid .npy file ({type(exc).__name__})") from None
    if dtype.kind not in "biuf" or dtype.hasobject or dtype.itemsize == 0:
        kind = KINDS.get(dtype.kind, "non-numeric") if dtype.names is None else "structured"
        raise OutputError(f"{name} has a {kind} dtype; expected a numeric array")
    if len(shape) > MAX_DIMS or any(not isinstance(n, int) or n < 0 for n in shape):
        raise OutputError(f"{name} declares an invalid shape")
    count = bound = 1
    for n in shape:
        count *= n
        bound *= max(n, 1)  # numpy refuses an empty array whose other dimensions overflow
    size = count * dtype.itemsize
    if bound * dtype.itemsize > limit:
        raise OutputError(f"output too large: {name} declares more than {limit >> 20} MiB")
    start = f.tell()
    if len(data) - start != size:
        raise OutputError(
            f"{name}: its header declares {size} bytes of data, it holds {len(data) - start}"
        )
    flat = np.frombuffer(data, dtype=dtype, count=count, offset=start)
    return flat.reshape(shape, order="F" if fortran else "C").copy()


def _read_meta(dir_fd: int, budget: Budget) -> dict:
    raw = _read_file(dir_fd, "meta.json", MAX_META_BYTES, budget)
    if raw is None:
        return {}
    if json_depth(raw) > MAX_META_DEPTH:
        raise OutputError(f"meta.json is nested more than {MAX_META_DEPTH} levels deep")
    try:
        meta = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return {}
    return meta if isinstance(meta, dict) else {}


def read_case(folder: Path, budget: Budget | None = None, scrub=None) -> tuple[dict, dict]:
    """The meta record and the arrays a child wrote for one case.

    Parameters
    ----------
    folder : Path
        ``<child folder>/out/<task>/<case>``; no part below ``out``'s parent is followed if
        it is a link.
    budget : Budget, optional
        Shared by all cases of one child.
    scrub : callable, optional
        Applied to the error text the child wrote (to remove host paths).

    Returns
    -------
    meta, outputs : dict, dict
        Empty if nothing was written; ``meta["error"]`` says which bound a case broke.
    """
    budget = budget or Budget()
    folder = Path(folder)
    parts = folder.parts
    try:
        base = os.open(Path(*parts[:-3]), OPEN_FLAGS | os.O_DIRECTORY)
    except OSError:
        return {}, {}
    try:
        try:
            fd = _open_dir(parts[-3:], base)
        except OSError:
            return {}, {}
        try:
            return _read_case_at(fd, budget, scrub)
        except OutputError as exc:
            return {"error": CRASH + str(exc)}, {}
        finally:
            os.close(fd)
    finally:
        os.close(base)


def _read_case_at(fd: int, budget: Budget, scrub) -> tuple[dict, dict]:
    meta = _read_meta(fd, budget)
    if "error" in meta:
        error = meta["error"] if isinstance(meta["error"], str) else repr(meta["error"])
        error = error[-4000:]
        error = scrub(error) if scrub else error
        # Only the parent reports a crash (its reasons are shown unmasked): a child's text
        # that starts like one is the child's own error, masked like any other.
        while error.startswith(CRASH):
            error = error[len(CRASH) :]
        meta["error"] = error
    kinds = meta.get("outputs", {})
    if not isinstance(kinds, dict):
        kinds = {}
    if len(kinds) > MAX_OUTPUTS:
        raise OutputError(f"output too large: {len(kinds)} outputs for one call")
    outputs = {}
    for name, kind in kinds.items():
        if not isinstance(name, str) or not _NAME.fullmatch(name) or len(name) > MAX_NAME:
            continue  # not a name the runner gives (reports name it: no room for numbers)
        if kind == "None":
            outputs[name] = None
            continue
        data = _read_file(fd, f"{name}.npy", MAX_FILE_BYTES, budget)
        if data is not None:
            outputs[name] = parse_npy(data, f"{name}.npy")
    return meta, outputs
