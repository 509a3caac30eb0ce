"""Pack your work for grading: ``python submit.py`` writes ``submission.zip`` in this folder.

The zip holds exactly what is graded: the ``.py`` files of ``src/nnlib/`` (your library) and
the course notebooks ``notebooks/<NN_name>/<NN_name>.ipynb`` (your answers). Nothing else
goes in: not ``.venv``, caches, checkpoints or data, so the zip stays small. It needs only
Python's standard library and runs the same on Linux, macOS and Windows.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOTEBOOKS = HERE / "notebooks"
LIBRARY = HERE / "src" / "nnlib"
SKIPPED = {"__pycache__", ".ipynb_checkpoints"}


def graded_files() -> list[Path]:
    """The library's ``.py`` files and each course notebook, relative to this folder."""
    files = [
        p
        for p in sorted(LIBRARY.rglob("*.py"))
        if p.is_file() and not p.is_symlink() and not SKIPPED & set(p.parts)
    ]
    if NOTEBOOKS.is_dir():
        for folder in sorted(p for p in NOTEBOOKS.iterdir() if p.is_dir()):
            notebook = folder / f"{folder.name}.ipynb"
            if notebook.is_file() and not notebook.is_symlink():
                files.append(notebook)
    return [p.relative_to(HERE) for p in files]


def main() -> int:
    if not (LIBRARY / "__init__.py").is_file():
        print(f"error: {LIBRARY} not found: run this file from your course folder", file=sys.stderr)
        return 1
    files = graded_files()
    target = HERE / "submission.zip"
    tmp = target.with_name("submission.zip.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        for rel in files:
            archive.write(HERE / rel, rel.as_posix())
    tmp.replace(target)
    notebooks = [f for f in files if f.suffix == ".ipynb"]
    print(f"wrote {target} ({target.stat().st_size // 1024} KB):")
    print(f"  {len(files) - len(notebooks)} library files from src/nnlib/")
    for notebook in notebooks:
        print(f"  {notebook.as_posix()}")
    print("Upload submission.zip as your submission.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
