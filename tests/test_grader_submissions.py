"""What the grader takes from a submission: only the student's own regular files.

Links (to the reference, to another submission, to system files), hard links, FIFOs and odd
archive members are never followed; virtual environments and caches are skipped; ids that
cannot name a student's records are refused with a reason, never a crash.
"""

import os
import shutil
import stat
import threading
import zipfile

import pytest

from autograder.grader.corpus import REFERENCE_SRC
from autograder.grader.submission import (
    MAX_SEARCH_DEPTH,
    SubmissionError,
    read_package,
    scan_submissions,
)


def _bundle(root, name="alice"):
    """A submission folder holding a copy of the reference package in src/nnlib."""
    package = root / name / "src" / "nnlib"
    shutil.copytree(REFERENCE_SRC, package, ignore=shutil.ignore_patterns("__pycache__"))
    return root / name


def _zip(folder, dest, links=(), compression=zipfile.ZIP_STORED):
    """Zip ``folder`` under its name; ``links`` are (member, target) symlink members."""
    with zipfile.ZipFile(dest, "w", compression) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.is_symlink():
                archive.write(path, f"{folder.name}/{path.relative_to(folder).as_posix()}")
        for member, target in links:
            info = zipfile.ZipInfo(f"{folder.name}/{member}")
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return dest


# ------------------------------------------------------------------------ links


@pytest.mark.parametrize("what", ["reference", "other_submission", "system_file"])
def test_a_linked_package_is_never_followed_in_a_folder(tmp_path, what):
    other = _bundle(tmp_path / "class", "bob")
    sub = tmp_path / "class" / "mallory"
    (sub / "src").mkdir(parents=True)
    target = {
        "reference": REFERENCE_SRC,
        "other_submission": other / "src" / "nnlib",
        "system_file": "/etc",
    }[what]
    (sub / "src" / "nnlib").symlink_to(target)
    with pytest.raises(SubmissionError, match="src/nnlib: a symbolic link is never followed"):
        read_package(sub)


def test_a_linked_src_or_module_is_ignored_and_named(tmp_path):
    other = _bundle(tmp_path, "bob")
    sub = tmp_path / "mallory"
    sub.mkdir()
    (sub / "src").symlink_to(other / "src")
    with pytest.raises(SubmissionError, match="src: a symbolic link"):
        read_package(sub)
    sub = _bundle(tmp_path, "eve")
    module = sub / "src" / "nnlib" / "two_layer.py"
    module.unlink()
    module.symlink_to(other / "src" / "nnlib" / "two_layer.py")
    (sub / "src" / "nnlib" / "secrets.py").symlink_to("/etc/passwd")
    package = read_package(sub)
    assert "two_layer.py" not in package.files and "secrets.py" not in package.files
    assert "losses.py" in package.files
    assert any("two_layer.py: a symbolic link" in n for n in package.notes), package.notes


def test_a_linked_submission_entry_is_refused(tmp_path):
    subs = tmp_path / "class"
    _bundle(subs, "bob")
    (subs / "mallory").symlink_to(subs / "bob")
    (subs / "eve.zip").symlink_to("/etc/passwd")
    listing = scan_submissions(subs)
    assert [p.name for p in listing.submissions] == ["bob"]
    refused = dict(listing.refused)
    assert "symbolic link" in refused["mallory"] and "symbolic link" in refused["eve"]
    with pytest.raises(SubmissionError, match="symbolic link"):
        read_package(subs / "mallory")


def test_hard_links_are_ignored(tmp_path):
    sub = _bundle(tmp_path)
    outside = tmp_path / "outside.py"
    shutil.copyfile(sub / "src" / "nnlib" / "features.py", outside)
    (sub / "src" / "nnlib" / "features.py").unlink()
    os.link(outside, sub / "src" / "nnlib" / "features.py")
    package = read_package(sub)
    assert "features.py" not in package.files
    assert any("features.py: a hard link" in n for n in package.notes)


def test_a_fifo_is_never_opened(tmp_path):
    sub = _bundle(tmp_path)
    (sub / "src" / "nnlib" / "features.py").unlink()
    os.mkfifo(sub / "src" / "nnlib" / "features.py")
    result = {}
    reader = threading.Thread(target=lambda: result.update(p=read_package(sub)), daemon=True)
    reader.start()
    reader.join(20)
    assert not reader.is_alive(), "reading the submission blocked on a FIFO"
    assert "features.py" not in result["p"].files
    assert any("features.py: a FIFO" in n for n in result["p"].notes)


@pytest.mark.parametrize(
    ("member", "target"),
    [
        ("src/nnlib/losses.py", str(REFERENCE_SRC / "losses.py")),
        ("src/nnlib/losses.py", "../../../bob/src/nnlib/losses.py"),
        ("src/nnlib/losses.py", "/etc/passwd"),
    ],
    ids=["reference", "other_submission", "system_file"],
)
def test_symlink_members_of_a_zip_are_never_followed(tmp_path, member, target):
    sub = _bundle(tmp_path)
    (sub / "src" / "nnlib" / "losses.py").unlink()
    archive = _zip(sub, tmp_path / "alice.zip", links=[(member, target)])
    with pytest.raises(SubmissionError, match=r"losses\.py: a symbolic link is never followed"):
        read_package(archive)


def test_a_zip_with_a_linked_module_grades_the_rest(tmp_path):
    sub = _bundle(tmp_path)
    (sub / "src" / "nnlib" / "two_layer.py").unlink()
    link = ("src/nnlib/two_layer.py", str(REFERENCE_SRC / "two_layer.py"))
    package = read_package(_zip(sub, tmp_path / "alice.zip", links=[link]))
    assert "two_layer.py" not in package.files and "losses.py" in package.files


# ------------------------------------------------------------------------ shapes


def test_a_zip_of_the_bundle_with_its_venv_grades_the_bundle(tmp_path):
    sub = _bundle(tmp_path)
    venv = sub / ".venv"
    (venv / "lib" / "site-packages" / "nnlib").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (venv / "lib" / "site-packages" / "nnlib" / "losses.py").write_text("STOLEN = 1\n")
    (sub / "env2" / "nnlib").mkdir(parents=True)
    (sub / "env2" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (sub / "env2" / "nnlib" / "losses.py").write_text("STOLEN = 2\n")
    archive = _zip(sub, tmp_path / "alice.zip")
    with zipfile.ZipFile(archive, "a") as z:  # more entries than the old limit of 20,000
        for i in range(20_500):
            z.writestr(f"alice/.venv/lib/site-packages/numpy/f{i}.py", "")
    for submission in (sub, archive):
        package = read_package(submission)
        assert package.where.endswith("src/nnlib"), package.where
        assert b"STOLEN" not in package.files["losses.py"]


def test_odd_zip_members_never_become_paths(tmp_path):
    sub = _bundle(tmp_path)
    archive = _zip(sub, tmp_path / "alice.zip")
    with zipfile.ZipFile(archive, "a") as z:
        z.writestr("alice/src/nnlib/extra.py", "X = 1")
        z.writestr("alice/src/nnlib/extra.py/inner.py", "X = 2")  # a file and a folder
        z.writestr("alice/notes/" + "a" * 3000 + ".py", "")
        z.writestr("alice/" + "d/" * 500 + "nnlib/losses.py", "raise SystemExit")
        z.writestr("/etc/nnlib/losses.py", "raise SystemExit")
        z.writestr("../nnlib/losses.py", "raise SystemExit")
        z.writestr("alice\\src\\nnlib\\windows.py", "X = 3")
    package = read_package(archive)
    assert package.where == "alice/src/nnlib"
    assert {"extra.py", "windows.py", "losses.py"} <= set(package.files)
    assert not any("inner" in f for f in package.files)


def test_a_duplicate_member_of_the_package_is_refused(tmp_path):
    sub = _bundle(tmp_path)
    archive = _zip(sub, tmp_path / "alice.zip")
    with pytest.warns(UserWarning), zipfile.ZipFile(archive, "a") as z:
        z.writestr("alice/src/nnlib/losses.py", "raise NotImplementedError")
    with pytest.raises(SubmissionError, match=r"two entries named alice/src/nnlib/losses\.py"):
        read_package(archive)


def _deep(folder, depth, name="d"):
    """Nest ``depth`` folders under ``folder`` with relative steps (no path grows too long)."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY)
    try:
        for _ in range(depth):
            os.mkdir(name, dir_fd=fd)
            inner = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
    finally:
        os.close(fd)


def test_very_deep_and_long_folders_are_bounded(tmp_path):
    sub = _bundle(tmp_path)
    _deep(sub / "notes", 600)
    _deep(sub / "longnames", 30, name="x" * 250)
    assert read_package(sub).where == "src/nnlib"
    lost = tmp_path / "lost"
    _deep(lost, MAX_SEARCH_DEPTH + 2)
    deepest = lost.joinpath(*["d"] * (MAX_SEARCH_DEPTH + 2))
    shutil.copytree(REFERENCE_SRC, deepest / "nnlib")
    with pytest.raises(SubmissionError, match="no nnlib package"):
        read_package(lost)


# ------------------------------------------------------------------------ ids


def test_ids_that_clash_or_cannot_name_files_are_refused_with_both_names(tmp_path):
    subs = tmp_path / "class"
    for name in ("dup", "ok", "grades.csv", "tab\there"):
        _bundle(subs, name)
    _zip(subs / "dup", subs / "dup.zip")
    _zip(subs / "ok", subs / "Twin.zip")
    _bundle(subs, "twin")  # one folder on a case-insensitive disk
    for name in ("_instructor", ".DS_Store", "notes.txt"):
        (subs / name).write_text("x")
    listing = scan_submissions(subs)
    assert [p.name for p in listing.submissions] == ["ok"]
    refused = dict(listing.refused)
    assert "dup/ and dup.zip" in refused["dup"]
    assert "Twin.zip and twin/" in refused["Twin"] and refused["Twin"] == refused["twin"]
    assert "file the grader writes" in refused["grades.csv"]
    assert "control characters" in refused["tab\there"]
    assert {name for name, _ in listing.skipped} == {"_instructor", ".DS_Store", "notes.txt"}


def test_names_that_are_not_utf8_never_stop_the_run(tmp_path):
    from autograder.grader.cli import grade_folder

    subs = tmp_path / "class"
    _bundle(subs, os.fsdecode(b"bad\xff"))
    sub = _bundle(subs, "good")
    for module in (REFERENCE_SRC).glob("*.py"):  # every module a stub: quick to grade
        (sub / "src" / "nnlib" / module.name).write_text("")
    (sub / "src" / "nnlib" / "losses.py").write_text("raise NotImplementedError('stub')\n")
    (sub / "src" / "nnlib" / os.fsdecode(b"odd\xfe.py")).write_text("")
    (subs / "_notes").mkdir()
    out, lines = tmp_path / "out", []
    assert grade_folder(subs, out, echo=lines.append) == (1, 0)
    assert any(line.strip().startswith("skipped _notes: names starting") for line in lines)
    rows = (out / "grades.csv").read_text(encoding="utf-8").splitlines()
    assert any(row.startswith("bad?,0,") and "not valid UTF-8" in row for row in rows), rows
    assert "odd" in (out / "good" / "feedback.md").read_text(encoding="utf-8")


def test_a_corrupt_or_unsupported_zip_is_refused_with_a_message(tmp_path):
    sub = _bundle(tmp_path)
    archive = _zip(sub, tmp_path / "alice.zip", compression=zipfile.ZIP_DEFLATED)
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as z:
        info = z.getinfo("alice/src/nnlib/losses.py")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start : start + 64] = b"\xff" * 64  # losses.py's deflate stream, broken
    archive.write_bytes(bytes(data))
    with pytest.raises(SubmissionError, match=r"cannot extract alice/src/nnlib/losses\.py"):
        read_package(archive)
    (tmp_path / "half.zip").write_bytes(archive.read_bytes()[: len(data) // 2])
    with pytest.raises(SubmissionError, match="not a readable zip"):
        read_package(tmp_path / "half.zip")


def test_a_zip_whose_table_of_contents_is_huge_is_refused_before_it_is_read(tmp_path, monkeypatch):
    """zipfile builds an object per entry before anyone can count them: a zip of a million
    empty entries costs the grader (and collect) close to a gigabyte of memory."""
    from autograder.collect import collect
    from autograder.grader.submission import MAX_ZIP_DIRECTORY_BYTES

    subs = tmp_path / "subs"
    subs.mkdir()
    long_name = "x" * 4000  # few entries, a large table: quick to write
    with zipfile.ZipFile(subs / "mallory.zip", "w") as archive:
        for i in range(MAX_ZIP_DIRECTORY_BYTES // (46 + len(long_name)) + 1):
            archive.writestr(f"{i:06d}{long_name}", b"")

    def parsed(*args, **kwargs):
        raise AssertionError("the zip's table of contents was parsed before its size was known")

    monkeypatch.setattr(zipfile, "ZipFile", parsed)
    with pytest.raises(SubmissionError, match=r"mallory\.zip has a table of contents of 16 MiB"):
        read_package(subs / "mallory.zip")
    (report,) = collect(subs, tmp_path / "course")
    assert report.status.startswith("error: mallory.zip has a table of contents of 16 MiB")
