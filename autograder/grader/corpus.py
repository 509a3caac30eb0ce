"""Build the corpus of sample submissions from small descriptions (``autograder/samples``).

A sample is a folder with one ``sample.toml``: a base (``"reference"``, the instructor's
``nnlib``, or ``"stubs"``, the untouched student copy), a few edits, the score it deserves
and a phrase its feedback must contain::

    description = "softmax without max-subtraction: NaN on large logits"
    base = "reference"
    expected_score = 137.0
    feedback = "exp overflowed"

    [[edit]]
    module = "losses"        # src/nnlib/losses.py
    function = "softmax"     # replace this function's definition by `code`
    code = '''
    def softmax(Z): ...
    '''

    [[edit]]
    module = "features"
    append = "import a_module_that_does_not_exist"   # module-level code added at the end

Attack samples name real paths through placeholders filled in at build time:
``@@OUTPUT_DIR@@`` (the grader's output folder), ``@@SUBMISSIONS_DIR@@``,
``@@REFERENCE_SRC@@`` (the reference package), ``@@DECOY_DIR@@`` (a throw-away folder
that destructive samples try to delete, so a sandbox failure can never harm the checkout)
and ``@@ANSWERS@@`` (a table of answers to the hidden inputs of seed ``cases.SEED``: what a
student could collect from an earlier grading run).
The builder writes each sample as a student bundle would arrive: ``<name>/src/nnlib/``.

Optional fields shape the submission itself (all paths relative to the submission)::

    archive = "zip"            # hand in <name>.zip (the bundle under <name>/ inside)
    also_zip = true            # hand in both <name>/ and <name>.zip (one id, two entries)
    student_id = "grades.csv"  # the entry's name, when it is not the sample's
    expected_status = "..."    # a phrase the status column of grades.csv must contain
    absent = "..."             # a phrase the feedback must not contain

    [[link]]                   # a symbolic link (in a zip: a symlink member)
    path = "src/nnlib"
    target = "@@REFERENCE_SRC@@"
    [[hardlink]]               # a hard link; target is first created from path's file
    path = "src/nnlib/activations.py"
    target = "@@DECOY_DIR@@/activations.py"
    [[fifo]]                   # a named pipe (folders only)
    path = "src/nnlib/features.py"
    [[file]]                   # any file
    path = ".venv/pyvenv.cfg"
    content = "home = /usr/bin"
    [[bulk]]                   # count small files (e.g. a virtual environment's)
    path = ".venv/lib"
    count = 30000
    [[deep]]                   # a chain of depth nested folders
    path = "notes"
    depth = 300
    [[member]]                 # zip only: a member with this exact name
    name = "../outside.py"
    content = "x = 1"
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import os
import shutil
import stat
import sys
import textwrap
import tomllib
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import nnlib
from autograder.student_copy import make_student_copy

SAMPLES_DIR = Path(__file__).resolve().parent.parent / "samples"
REFERENCE_SRC = Path(nnlib.__file__).resolve().parent


@dataclass
class Sample:
    """A sample submission's description and what grading it must give."""

    name: str
    description: str
    base: str
    expected_score: float
    feedback: str
    edits: list
    layout: dict = field(default_factory=dict)
    archive: str = ""
    also_zip: bool = False
    student_id: str = ""
    expected_status: str = ""
    absent: str = ""

    @property
    def student(self) -> str:
        """The id the grader gives this sample's entry."""
        return self.student_id or self.name


LAYOUT_KINDS = ("link", "hardlink", "fifo", "file", "bulk", "deep", "member")


def load_samples(folder: Path = SAMPLES_DIR) -> list[Sample]:
    """Every ``*/sample.toml`` under ``folder``, sorted by name.

    Raises
    ------
    ValueError
        If a description lacks a field or names an unknown base.
    """
    samples = []
    for path in sorted(Path(folder).glob("*/sample.toml")):
        with open(path, "rb") as f:
            data = tomllib.load(f)
        try:
            sample = Sample(
                path.parent.name,
                data["description"],
                data["base"],
                float(data["expected_score"]),
                data["feedback"],
                data.get("edit", []),
                {kind: data.get(kind, []) for kind in LAYOUT_KINDS},
                data.get("archive", ""),
                bool(data.get("also_zip", False)),
                data.get("student_id", ""),
                data.get("expected_status", ""),
                data.get("absent", ""),
            )
        except KeyError as exc:
            raise ValueError(f"{path}: missing field {exc}") from exc
        if sample.base not in ("reference", "stubs"):
            raise ValueError(f"{path}: base must be 'reference' or 'stubs', got {sample.base!r}")
        if sample.archive not in ("", "zip"):
            raise ValueError(f"{path}: archive must be 'zip', got {sample.archive!r}")
        samples.append(sample)
    return samples


def replace_function(source: str, function: str, code: str, filename: str) -> str:
    """Replace the top-level definition of ``function`` in ``source`` by ``code``."""
    tree = ast.parse(source, filename)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == function:
            start = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
            lines = source.splitlines(keepends=True)
            new = textwrap.dedent(code).strip("\n") + "\n"
            return "".join(lines[:start]) + new + "".join(lines[node.end_lineno :])
    raise ValueError(f"{filename}: no top-level function {function!r} to replace")


def _fill(text: str, placeholders: dict) -> str:
    for key, value in placeholders.items():
        text = text.replace(f"@@{key}@@", str(value))
    return text


def build_sample(sample: Sample, dest: Path, placeholders: dict) -> Path:
    """Write one sample as ``dest/<id>/src/nnlib`` (or ``dest/<id>.zip``); return the entry."""
    root = Path(dest) / sample.student
    package = root / "src" / "nnlib"
    if root.is_symlink() or root.is_file():
        root.unlink()
    elif root.exists():
        shutil.rmtree(root)
    if sample.base == "reference":
        shutil.copytree(REFERENCE_SRC, package, ignore=shutil.ignore_patterns("__pycache__"))
    else:
        make_student_copy(REFERENCE_SRC, package)
    for edit in sample.edits:
        path = package / f"{edit['module']}.py"
        text = path.read_text()
        if "function" in edit:
            text = replace_function(
                text, edit["function"], _fill(edit["code"], placeholders), str(path)
            )
        if "append" in edit:
            text += "\n" + textwrap.dedent(_fill(edit["append"], placeholders)) + "\n"
        path.write_text(text)
    _shape(sample, root, placeholders)
    if sample.archive == "zip" or sample.also_zip:
        archive = root.with_name(root.name + ".zip")
        _zip_tree(root, archive, sample, placeholders)
        if not sample.also_zip:
            shutil.rmtree(root)
            return archive
    return root


def _replace(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
    path.parent.mkdir(parents=True, exist_ok=True)


def _shape(sample: Sample, root: Path, placeholders: dict) -> None:
    """Add the links, special files and odd folders a sample's layout asks for."""
    layout = sample.layout
    for item in layout.get("file", []):
        path = root / item["path"]
        _replace(path)
        path.write_text(_fill(item.get("content", ""), placeholders))
    for item in layout.get("bulk", []):
        folder = root / item["path"]
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(int(item["count"])):
            (folder / f"f{i}.py").write_bytes(b"")
    for item in layout.get("deep", []):
        folder = root / item["path"]
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for _ in range(int(item["depth"])):  # relative steps: no path grows too long
                os.mkdir("d", dir_fd=fd)
                inner = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
                os.close(fd)
                fd = inner
            with open(os.open("nnlib.py", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "w") as f:
                f.write("raise SystemExit('deep inside')\n")
        finally:
            os.close(fd)
    for item in layout.get("hardlink", []):
        path, target = root / item["path"], Path(_fill(item["target"], placeholders))
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        _replace(path)
        os.link(target, path)
    for item in layout.get("fifo", []):
        path = root / item["path"]
        _replace(path)
        os.mkfifo(path)
    for item in layout.get("link", []):
        path = root / item["path"]
        _replace(path)
        path.symlink_to(_fill(item["target"], placeholders))


def _zip_tree(root: Path, archive: Path, sample: Sample, placeholders: dict) -> None:
    """Zip ``root`` under its own name as a student's tool would: links as symlink members."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        for dirpath, dirs, files in os.walk(root):
            dirs.sort()
            for name in sorted(files) + [d for d in dirs if os.path.islink(Path(dirpath) / d)]:
                path = Path(dirpath) / name
                arcname = f"{root.name}/{path.relative_to(root).as_posix()}"
                mode = path.lstat().st_mode
                if stat.S_ISLNK(mode):
                    info = zipfile.ZipInfo(arcname)
                    info.create_system = 3
                    info.external_attr = (stat.S_IFLNK | 0o777) << 16
                    out.writestr(info, os.readlink(path))
                elif stat.S_ISREG(mode):
                    out.write(path, arcname)
        for item in sample.layout.get("member", []):
            info = zipfile.ZipInfo(_fill(item["name"], placeholders))
            info.external_attr = 0o644 << 16
            with warnings.catch_warnings():  # a duplicate name is what the sample is about
                warnings.simplefilter("ignore", UserWarning)
                out.writestr(info, _fill(item.get("content", ""), placeholders))


def answers_table(seed: int) -> dict:
    """Answers to the hidden cases of ``seed`` keyed by the SHA-256 of the first argument's
    bytes: the lookup table a student could build from an earlier grading run."""
    from .cases import task_specs

    table = {}
    for spec in task_specs(seed):
        for case in spec.cases:
            first = case.args[0] if case.args else None
            if (
                case.kind == "values"
                and isinstance(first, np.ndarray)
                and "return" in (case.expected)
            ):
                key = hashlib.sha256(first.tobytes()).hexdigest()
                table[key] = case.expected["return"].tolist()
    return table


def build_corpus(dest: Path, placeholders: dict, folder: Path = SAMPLES_DIR) -> list[Sample]:
    """Build every sample into ``dest``; return their descriptions."""
    samples = load_samples(folder)
    Path(dest).mkdir(parents=True, exist_ok=True)
    for sample in samples:
        build_sample(sample, dest, placeholders)
    return samples


def default_placeholders(submissions: Path, output: Path, decoy: Path) -> dict:
    """The placeholder values for a corpus built into ``submissions``."""
    from .cases import SEED

    return {
        "OUTPUT_DIR": Path(output).resolve(),
        "SUBMISSIONS_DIR": Path(submissions).resolve(),
        "REFERENCE_SRC": REFERENCE_SRC,
        "DECOY_DIR": Path(decoy).resolve(),
        "ANSWERS": repr(answers_table(SEED)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the sample submissions of the corpus.")
    parser.add_argument("dest", type=Path, help="folder to write the submissions into")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("build/corpus-grades"),
        help="the grading output folder the attack samples will target",
    )
    parser.add_argument(
        "--decoy",
        type=Path,
        default=Path("build/corpus-decoy"),
        help="a throw-away folder the destructive samples try to delete",
    )
    args = parser.parse_args(argv)
    args.decoy.mkdir(parents=True, exist_ok=True)
    samples = build_corpus(args.dest, default_placeholders(args.dest, args.out, args.decoy))
    for sample in samples:
        print(f"{sample.name:28} {sample.expected_score:7g}  {sample.description}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
