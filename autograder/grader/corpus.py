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
``@@REFERENCE_SRC@@`` (the reference package) and ``@@DECOY_DIR@@`` (a throw-away folder
that destructive samples try to delete, so a sandbox failure can never harm the checkout).
The builder writes each sample as a student bundle would arrive: ``<name>/src/nnlib/``.
"""

from __future__ import annotations

import argparse
import ast
import shutil
import sys
import textwrap
import tomllib
from dataclasses import dataclass
from pathlib import Path

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
            )
        except KeyError as exc:
            raise ValueError(f"{path}: missing field {exc}") from exc
        if sample.base not in ("reference", "stubs"):
            raise ValueError(f"{path}: base must be 'reference' or 'stubs', got {sample.base!r}")
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
    """Write one sample as ``dest/<name>/src/nnlib``; return the submission folder."""
    package = Path(dest) / sample.name / "src" / "nnlib"
    if package.parent.parent.exists():
        shutil.rmtree(package.parent.parent)
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
    return package.parent.parent


def build_corpus(dest: Path, placeholders: dict, folder: Path = SAMPLES_DIR) -> list[Sample]:
    """Build every sample into ``dest``; return their descriptions."""
    samples = load_samples(folder)
    Path(dest).mkdir(parents=True, exist_ok=True)
    for sample in samples:
        build_sample(sample, dest, placeholders)
    return samples


def default_placeholders(submissions: Path, output: Path, decoy: Path) -> dict:
    """The placeholder values for a corpus built into ``submissions``."""
    return {
        "OUTPUT_DIR": Path(output).resolve(),
        "SUBMISSIONS_DIR": Path(submissions).resolve(),
        "REFERENCE_SRC": REFERENCE_SRC,
        "DECOY_DIR": Path(decoy).resolve(),
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
