"""The Gradescope export: the zip's layout, run_autograder in a fake /autograder, the schema.
(The merge of the notebook and library grades is tested in tests/test_collect_merge.py.)"""

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest
from _kit_copy import copy_kit, make_env

from autograder.grader.corpus import build_sample, load_samples
from autograder.gradescope import build_zip
from nnlib.tasks import TASKS

SAMPLES = {s.name: s for s in load_samples()}


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory):
    return build_zip(tmp_path_factory.mktemp("gs") / "autograder.zip")


def test_zip_has_setup_and_run_autograder_at_its_root(autograder_zip):
    with zipfile.ZipFile(autograder_zip) as archive:
        names = set(archive.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in archive.infolist()}
    assert {"setup.sh", "run_autograder", "requirements.txt"} <= names
    assert "src/nnlib/losses.py" in names and "autograder/grader/runner.py" in names
    assert modes["run_autograder"] & stat.S_IXUSR and modes["setup.sh"] & stat.S_IXUSR
    assert not any(n.startswith("autograder/samples") for n in names)


def test_make_gradescope_writes_the_zip_the_readme_names(tmp_path):
    """``make gradescope``, run as the README gives it in a fresh copy of the kit, writes
    ``build/gradescope/autograder.zip`` with the files of :func:`build_zip`."""
    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text(encoding="utf-8")
    found = re.search(r"`(make gradescope)` writes `(build/gradescope/autograder\.zip)`", readme)
    assert found, "the README no longer gives `make gradescope` and the zip it writes"
    kit = copy_kit(tmp_path / "kit")
    run = subprocess.run(
        found.group(1).split(), cwd=kit, env=make_env(), capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stdout + run.stderr
    with zipfile.ZipFile(kit / found.group(2)) as made:
        names = set(made.namelist())
    with zipfile.ZipFile(build_zip(tmp_path / "direct.zip")) as direct:
        assert names == set(direct.namelist())
    assert {"setup.sh", "run_autograder", "requirements.txt"} <= names


def _gradescope_root(tmp_path, autograder_zip, sample, placeholders=None):
    root = tmp_path / "autograder"
    (root / "results").mkdir(parents=True)
    with zipfile.ZipFile(autograder_zip) as archive:
        archive.extractall(root / "source")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    built = build_sample(SAMPLES[sample], tmp_path / "built", placeholders or {})
    shutil.copytree(built, root / "submission")
    return root


def _run_autograder(root):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(GRADESCOPE_ROOT=str(root), GRADESCOPE_PYTHON=sys.executable)
    return subprocess.run(
        ["bash", str(root / "run_autograder")], env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize("sample", ["partial", "os_exit_in_function"])
def test_run_autograder_writes_valid_results(tmp_path, autograder_zip, sample):
    root = _gradescope_root(tmp_path, autograder_zip, sample)
    result = _run_autograder(root)
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads((root / "results" / "results.json").read_text())
    assert isinstance(data["score"], float)
    assert data["score"] == pytest.approx(SAMPLES[sample].expected_score)
    assert len(data["tests"]) == len(TASKS)  # one Gradescope test per library task
    for test in data["tests"]:
        assert isinstance(test["name"], str) and test["name"]
        assert isinstance(test["score"], float) and isinstance(test["max_score"], float)
        assert 0 <= test["score"] <= test["max_score"]
        assert test["status"] in ("passed", "failed")
        assert isinstance(test["output"], str)
        assert test["visibility"] in ("hidden", "after_due_date", "after_published", "visible")
    assert sum(t["score"] for t in data["tests"]) == pytest.approx(data["score"], abs=0.05)


def test_run_autograder_explains_an_empty_submission(tmp_path, autograder_zip):
    root = _gradescope_root(tmp_path, autograder_zip, "stubs")
    shutil.rmtree(root / "submission")
    (root / "submission").mkdir()
    result = _run_autograder(root)
    assert result.returncode == 0, result.stderr
    data = json.loads((root / "results" / "results.json").read_text())
    assert data["score"] == 0.0
    assert "no nnlib package" in data["tests"][0]["output"]


# ------------------------------------------------------- Gradescope's container, simulated

CAPSH = shutil.which("capsh") or "/usr/sbin/capsh"


def _hidden_checkout() -> Path:
    """The folder the simulated container covers so that the kit's checkout is not there: its
    top-level folder, or the checkout itself below /tmp, /root or /home."""
    checkout = Path(__file__).resolve().parent.parent
    top = Path(*checkout.parts[:2])
    return checkout if str(top) in ("/tmp", "/root", "/home") else top


# Docker's default capabilities (its documentation's list): a container has these and no other.
_DOCKER_DEFAULT = (
    "chown dac_override fsetid fowner mknod net_raw setgid setuid setfcap setpcap "
    "net_bind_service sys_chroot kill audit_write"
).split()


def _capabilities_not_in_docker() -> str:
    """The capabilities this machine's bounding set has and Docker's default lacks."""
    listed = subprocess.run([CAPSH, "--print"], capture_output=True, text=True).stdout
    bounding = re.search(r"^Bounding set =(.*)$", listed, re.M)[1].split(",")
    return ",".join(c for c in bounding if c and c.removeprefix("cap_") not in _DOCKER_DEFAULT)


def _without_cap_sys_admin(root, tmp_path):
    """Run run_autograder as Gradescope does: root, with Docker's default capabilities only
    (no CAP_SYS_ADMIN, so no namespaces; no CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, ...), with
    Docker's default 64 MiB /dev/shm, and with no checkout of the kit on the machine (the
    checkout is covered by an empty folder, the interpreter's venv is mounted elsewhere)."""
    hidden = _hidden_checkout()
    not_in_docker = _capabilities_not_in_docker()
    venv = tmp_path / "venv"
    venv.mkdir()
    python = venv / Path(sys.executable).relative_to(sys.prefix)
    script = (
        f"mount --bind {sys.prefix} {venv} && mount -t tmpfs -o size=1m none {hidden} && "
        "mount -t tmpfs -o size=64m,mode=1777 shm /dev/shm && "
        f"exec {CAPSH} --drop={not_in_docker} -- -c 'bash {root}/run_autograder'"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(GRADESCOPE_ROOT=str(root), GRADESCOPE_PYTHON=str(python))
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "bash", "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _without_the_simulations_mounts(text: str) -> str:
    """``text`` without the two mount-table fields that only the simulation has.

    A submission can read /proc/self/mountinfo ("<id> <id> <dev> <root> <mount point> ..."),
    where the simulation's own mounts show the checkout: the tmpfs over it (its mount point)
    and the bind mount of this interpreter's venv (its root). Gradescope's container has no
    checkout and neither mount, so those two fields are not leaks; the checkout's path
    anywhere else is. Whether they reach the feedback at all depends on how many other mounts
    the machine has (the probe cuts the table), so both are taken out here, always.
    """
    text = text.replace(f" / {_hidden_checkout()} ", " / <the simulation's tmpfs> ")
    # "<major>:<minor> <root> ": the feedback may shorten the major number to an ellipsis.
    bind_root = rf"(:\d+) {re.escape(sys.prefix)}(?= )"
    return re.sub(bind_root, r"\1 <the simulation's venv>", text)


needs_root = pytest.mark.skipif(
    os.geteuid() != 0,
    reason="simulating Gradescope's container (root without CAP_SYS_ADMIN) needs root",
)


@pytest.fixture
def open_folder():
    """A folder every user can pass through, as ``/`` is for Gradescope's ``/autograder``
    (pytest's own temporary folders are private to root, which would hide what
    ``run_autograder`` must hide itself)."""
    folder = Path(tempfile.mkdtemp(prefix="nnlib-gradescope-", dir="/var/tmp"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@needs_root
@pytest.mark.parametrize(
    "sample", ["reference", "partial", "read_other_submission", "network_answers", "path_probing"]
)
def test_run_autograder_grades_in_a_container_without_cap_sys_admin(
    tmp_path, open_folder, autograder_zip, sample
):
    root = open_folder / "autograder"
    # The attack reads <SUBMISSIONS_DIR>/reference/src/nnlib/losses.py: make that the
    # autograder's own reference, the one file it must never read.
    (open_folder / "others").mkdir()
    (open_folder / "others" / "reference").symlink_to(root / "source")
    placeholders = {
        "REFERENCE_SRC": root / "source" / "src" / "nnlib",
        "OUTPUT_DIR": root / "results",
        "SUBMISSIONS_DIR": open_folder / "others",
        "DECOY_DIR": tmp_path / "decoy",
    }
    for tool in (CAPSH, shutil.which("unshare")):
        assert tool and os.path.exists(tool), "install capsh (libcap2-bin) and unshare"
    root = _gradescope_root(open_folder, autograder_zip, sample, placeholders)
    result = _without_cap_sys_admin(root, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads((root / "results" / "results.json").read_text())
    assert data["score"] == pytest.approx(SAMPLES[sample].expected_score), data["output"]
    assert "sandbox mode 'uid'" in result.stdout, "namespaces must be unavailable here"
    text = _without_the_simulations_mounts(json.dumps(data))
    for path in (root, Path(__file__).resolve().parent.parent):
        assert str(path) not in text, f"{path} reached the student"
    work = re.search(r"nnlib-grader-(?!site)\w{8}", text)  # the grader's working folder
    assert work is None, f"{work.group()} reached the student"


def test_a_grader_failure_is_not_a_score(tmp_path, autograder_zip, capsys, monkeypatch):
    """A sandbox that cannot start is the autograder's failure: exit 2, no results.json."""
    from autograder import gradescope
    from autograder.grader import sandbox

    # uid mode refuses to start while other users can read the reference library. Make that so
    # wherever this checkout is: inside a private folder (a clone in `mktemp -d`), uid mode works.
    monkeypatch.setattr(sandbox, "others_can_reach", lambda path: True)

    built = build_sample(SAMPLES["reference"], tmp_path / "subs", {})
    results = tmp_path / "results" / "results.json"
    results.parent.mkdir()
    results.write_text('{"score": 0.0}')  # a stale file must not stand in for a result
    mode = "namespace" if os.geteuid() != 0 else "uid"  # neither can work here
    code = gradescope.main(
        ["run", "--submission", str(built), "--results", str(results), "--sandbox", mode]
    )
    assert code == 2
    assert not results.exists()
    assert "GRADER ERROR" in capsys.readouterr().err


def test_a_missing_submission_folder_is_the_autograders_failure(tmp_path, capsys):
    """Gradescope always creates /autograder/submission; without it nothing was graded, so no
    score may be written (a 0 would stand as the student's grade)."""
    from autograder import gradescope

    results = tmp_path / "results.json"
    results.write_text('{"score": 0.0}')  # a stale file must not stand in for a result
    code = gradescope.main(
        ["run", "--submission", str(tmp_path / "absent"), "--results", str(results)]
    )
    assert code == 2, "a missing submission folder must fail the autograder run, not score 0"
    assert not results.exists()
    assert "no folder" in capsys.readouterr().err
