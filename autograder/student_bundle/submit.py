"""Pack your work for grading: ``python submit.py`` writes ``submission.zip`` in this folder.

The zip holds exactly what is graded: the ``.py`` files of ``src/nnlib/`` (your library) and
the course notebooks ``notebooks/<NN_name>/<NN_name>.ipynb`` (your answers). Nothing else
goes in: not ``.venv``, caches, checkpoints or data, so the zip stays small. It needs only
Python's standard library and runs the same on Linux, macOS and Windows.
"""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOTEBOOKS = HERE / "notebooks"
LIBRARY = HERE / "src" / "nnlib"
SKIPPED = {"__pycache__", ".ipynb_checkpoints"}

# The graders' limits. Past them a library file is ignored or the whole library refused
# (autograder/grader/submission.py), and a notebook is not collected (autograder/collect.py);
# a test in the course kit keeps these numbers equal to those.
MAX_LIBRARY_FILES = 200
MAX_LIBRARY_FILE_BYTES = 1024 * 1024
MAX_LIBRARY_BYTES = 8 * 1024 * 1024
MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024


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


def problems(files: list[Path]) -> list[str]:
    """What in ``files`` the graders would ignore or refuse, one sentence each."""
    found = []
    library = [rel for rel in files if rel.suffix == ".py"]
    sizes = {rel: (HERE / rel).stat().st_size for rel in files}
    if len(library) > MAX_LIBRARY_FILES:
        found.append(
            f"src/nnlib holds {len(library)} .py files; the grader takes at most "
            f"{MAX_LIBRARY_FILES}"
        )
    if sum(sizes[rel] for rel in library) > MAX_LIBRARY_BYTES:
        found.append(
            f"the .py files of src/nnlib add up to more than {MAX_LIBRARY_BYTES >> 20} MB, "
            "the grader's limit: keep data out of the library"
        )
    for rel in library:
        if sizes[rel] > MAX_LIBRARY_FILE_BYTES:
            found.append(
                f"{rel.as_posix()} is {sizes[rel] >> 10} KB; the grader ignores a .py "
                f"file over {MAX_LIBRARY_FILE_BYTES >> 10} KB: keep data out of it"
            )
    for rel in files:
        if rel.suffix != ".ipynb":
            continue
        if sizes[rel] > MAX_NOTEBOOK_BYTES:
            found.append(
                f"{rel.as_posix()} is {sizes[rel] >> 20} MB, over the graders' "
                f"{MAX_NOTEBOOK_BYTES >> 20} MB: clear its outputs (JupyterLab: Edit, "
                "Clear Outputs of All Cells), save it, and run this again"
            )
            continue
        try:
            notebook = json.loads((HERE / rel).read_bytes())
        except (ValueError, RecursionError) as exc:
            found.append(
                f"{rel.as_posix()} is not a readable notebook ({exc}): open it in "
                "JupyterLab, or use File, Revert Notebook to Checkpoint, and save it"
            )
            continue
        if not (isinstance(notebook, dict) and isinstance(notebook.get("cells"), list)):
            found.append(f"{rel.as_posix()} is JSON but not a notebook (no list of cells)")
    return found


def main() -> int:
    if not (LIBRARY / "__init__.py").is_file():
        print(f"error: {LIBRARY} not found: run this file from your course folder", file=sys.stderr)
        return 1
    files = graded_files()
    refused = problems(files)
    if refused:
        print("error: submission.zip was not written; the graders would not take:", file=sys.stderr)
        for problem in refused:
            print(f"  {problem}", file=sys.stderr)
        if (HERE / "submission.zip").exists():
            print(
                "The submission.zip already here is from an earlier run: it does not hold "
                "this work.",
                file=sys.stderr,
            )
        return 1
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
    # a course folder (01_linear_classifiers, ...) whose notebook was renamed or deleted
    listed = {notebook.name for notebook in notebooks}
    course_folders = sorted(NOTEBOOKS.glob("[0-9][0-9]_*")) if NOTEBOOKS.is_dir() else []
    for folder in course_folders:
        if folder.is_dir() and f"{folder.name}.ipynb" not in listed:
            print(f"  NOT in it: notebooks/{folder.name}/{folder.name}.ipynb (no such file)")
    print("Upload submission.zip as your submission.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
