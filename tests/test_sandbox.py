"""The sandbox between the grader and student code: what the child can reach, what it can
make the parent believe, and what the parent reads of its output.

The grading tests run in every mode the machine allows: ``plain`` always, ``namespace`` as
root. ``uid`` mode (Gradescope's container) is tested by tests/test_gradescope.py, which runs
the Gradescope autograder without CAP_SYS_ADMIN.
"""

import ast
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest

from autograder.grader import launcher
from autograder.grader.cases import REPLACED, task_specs
from autograder.grader.child_output import Budget, json_depth, read_case
from autograder.grader.compare import judge_task
from autograder.grader.corpus import Sample, build_sample, load_samples
from autograder.grader.grade import Grader
from autograder.grader.hostfs import others_can_reach
from autograder.grader.sandbox import CHECKOUT, Limits, Sandbox, SandboxError
from nnlib.tasks import TASKS

SAMPLES = {s.name: s for s in load_samples()}
ROOT = os.geteuid() == 0
MODES = ["plain"] + (["namespace"] if ROOT else [])


@pytest.fixture
def no_hang():
    """Fail, instead of hanging the suite, if the parent blocks on something."""
    signal.signal(signal.SIGALRM, lambda *a: pytest.fail("the parent blocked"))
    signal.alarm(20)
    yield
    signal.alarm(0)


def _relu_sample(name, code):
    edit = {"module": "activations", "function": "relu", "code": code}
    return Sample(name, name, "reference", 0, "", [edit])


def _grade(tmp_path, mode, samples, limits=None):
    subs = tmp_path / "subs"
    for sample in samples:
        build_sample(sample, subs, {})
    grader = Grader(mode, limits or Limits(task_seconds=3.0))
    try:
        return [grader.grade(subs / s.name) for s in samples], grader
    finally:
        grader.close()


def _task(record, function):
    return next(t for t in record["tasks"] if t["function"] == function)


def _messages(record, function):
    return " ".join(c["message"] for c in _task(record, function)["checks"])


# --------------------------------------------------------------------------- network


class _Servers:
    """A TCP server on 127.0.0.1 and an abstract unix socket server that hand out answers."""

    def __init__(self):
        self.connections = 0
        self.tcp = socket.create_server(("127.0.0.1", 0))
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.abstract = f"\0nnlib-answers-{os.getpid()}-{id(self)}"
        self.unix.bind(self.abstract)
        self.unix.listen()
        for server in (self.tcp, self.unix):
            server.settimeout(0.2)
            threading.Thread(target=self._serve, args=(server,), daemon=True).start()

    def _serve(self, server):
        while server.fileno() >= 0:
            try:
                conn, _ = server.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            conn.sendall(b"ANSWERS")
            conn.close()

    def close(self):
        self.tcp.close()
        self.unix.close()


@pytest.mark.parametrize("mode", MODES)
def test_the_child_reaches_no_local_server(tmp_path, mode):
    servers = _Servers()
    code = f"""
def relu(Z):
    import socket
    got = []
    for family, address in ((socket.AF_INET, ("127.0.0.1", {servers.tcp.getsockname()[1]})),
                            (socket.AF_UNIX, {servers.abstract!r})):
        try:
            s = socket.socket(family, socket.SOCK_STREAM)
            s.connect(address)
            got.append(s.recv(16).decode())
        except OSError as exc:
            got.append(type(exc).__name__ + ": " + str(exc))
    raise RuntimeError("NET " + " | ".join(got))
"""
    try:
        (record,), _ = _grade(tmp_path, mode, [_relu_sample("net", code)])
    finally:
        servers.close()
    text = _messages(record, "relu")
    assert "ANSWERS" not in text and servers.connections == 0, text
    assert text.count("Operation not permitted") >= 1, text


@pytest.mark.parametrize("mode", MODES)
def test_no_memory_outlives_the_child_or_escapes_its_limits(tmp_path, mode):
    """System V shared memory would outlive the child (a channel to the next submission run
    under the same user id); a memory file escapes the folder limits."""
    code = """
def relu(Z):
    import ctypes, os
    libc = ctypes.CDLL(None, use_errno=True)
    got = [libc.shmget(0x6E6E6C, 4096, 0o1666), ctypes.get_errno()]
    try:
        os.memfd_create("hoard")
        got.append("memfd")
    except OSError as exc:
        got.append(exc.errno)
    raise RuntimeError(f"IPC {got}")
"""
    (record,), _ = _grade(tmp_path, mode, [_relu_sample("ipc", code)])
    assert "IPC [-1, 1, 1]" in _messages(record, "relu"), _messages(record, "relu")


def test_the_seccomp_program_refuses_sockets_and_kills_foreign_calls():
    code, count = launcher.seccomp_program("x86_64")
    assert len(code) == 8 * count
    _, numbers, _ = launcher.SYSCALLS["x86_64"]
    assert {"socket", "io_uring_setup", "ptrace"} <= set(numbers)
    with pytest.raises(launcher.SetupError, match="no seccomp filter"):
        launcher.seccomp_program("mips")


# ------------------------------------------------------- what the child cannot make us do


@pytest.mark.parametrize("mode", MODES)
def test_a_forged_exit_status_changes_nothing_for_the_next_submission(tmp_path, mode):
    records, grader = _grade(tmp_path, mode, [SAMPLES["forged_exit_status"], SAMPLES["reference"]])
    forged, reference = records
    assert forged["sandbox"] == reference["sandbox"] == mode == grader.sandbox.mode
    assert "exited with status 97" in _messages(forged, "relu")
    assert reference["score"] == sum(task.points for task in TASKS)


def test_set_up_failure_is_reported_on_the_launcher_channel(tmp_path):
    sandbox = Sandbox("plain")
    sandbox.python = tmp_path / "no-such-python"
    (tmp_path / "a").mkdir()
    with pytest.raises(SandboxError, match="fail exec: cannot run"):
        sandbox._launch(tmp_path / "a", tmp_path / "a", 0, argv_tail=["-c", ""])


@pytest.mark.skipif(not ROOT, reason="the namespace sandbox needs root")
def test_an_unexpected_set_up_error_in_the_namespace_names_itself(tmp_path, monkeypatch):
    """An error the launcher does not expect, raised while it builds the namespace's file
    system, still reaches the grader by name instead of "exited without a word"."""
    from autograder.grader import sandbox as sandbox_module

    sandbox = Sandbox("auto")  # namespace where it works here
    if sandbox.mode != "namespace":
        pytest.skip(f"namespaces are not available here (mode {sandbox.mode!r})")
    monkeypatch.setattr(sandbox_module, "_site_package_dirs", lambda: 5)  # not a list
    attempt = tmp_path / "attempt"
    (attempt / "sandbox").mkdir(parents=True)
    with pytest.raises(SandboxError, match="fail setup: TypeError: 'int' object is not iterable"):
        sandbox._launch(attempt, attempt / "sandbox", 0, argv_tail=["-c", ""])


def test_a_child_that_fails_before_any_student_code_is_the_graders_failure(tmp_path):
    """No student code runs before the first "start" line: a child that stops there is a
    broken sandbox, never a task's failure (which would be a silent wrong grade)."""
    sandbox = Sandbox("plain")
    attempt = tmp_path / "attempt"
    attempt.mkdir()
    (attempt / "sandbox" / ".grader").mkdir(parents=True)  # no runner.py in it
    with pytest.raises(SandboxError, match="failed before its first task"):
        sandbox.run(attempt, attempt / "sandbox", 0, ["relu"])


def test_every_submission_has_a_wall_clock_cap(tmp_path):
    """Every task hangs, and a thread keeps announcing the next task: the submission still
    ends at its cap, and the tasks it did not reach say so."""
    code = """
def relu(Z):
    import os, threading, time
    def lie():
        for name in ("relu_grad", "softmax", "log_softmax", "softmax_loss"):
            time.sleep(0.3)
            for fd in range(3, 16):
                try:
                    os.write(fd, f"done relu\\nstart {name}\\n".encode())
                except OSError:
                    pass
    threading.Thread(target=lie, daemon=True).start()
    time.sleep(3600)
"""
    # The cap (3 s) is shorter than one task's limit (10 s): only the cap can end relu.
    limits = Limits(task_seconds=10.0, submission_seconds=3.0)
    (record,), _ = _grade(tmp_path, MODES[-1], [_relu_sample("slow", code)], limits)
    text = json.dumps(record["tasks"])
    assert "not run: the submission used up its" in text
    assert "timed out" in text


@pytest.mark.parametrize("mode", MODES)
def test_scratch_space_is_bounded(tmp_path, mode):
    (record,), _ = _grade(tmp_path, mode, [SAMPLES["scratch_flood"]])
    assert "scratch limit" in _messages(record, "relu")
    assert record["score"] == SAMPLES["scratch_flood"].expected_score


# ------------------------------------------------------------------ paths of the host


@pytest.mark.parametrize("mode", MODES)
def test_no_host_path_reaches_the_record(tmp_path, mode):
    (record,), grader = _grade(tmp_path, mode, [SAMPLES["path_probing"]])
    record.pop("submission")
    text = json.dumps(record)
    assert "PROBE" in text
    for path in (str(CHECKOUT), str(grader.work)):
        assert path not in text, f"{path} reached the student"


@pytest.mark.skipif(not ROOT, reason="the namespace sandbox needs root")
def test_the_namespace_child_sees_numpy_alone(tmp_path):
    from autograder.grader.sandbox import SITE_INSIDE, _site_package_dirs

    code = f"""
def relu(Z):
    import os
    seen = {{}}
    for folder in {[SITE_INSIDE, *_site_package_dirs()]!r}:
        seen[folder] = sorted(os.listdir(folder)) if os.path.isdir(folder) else None
    raise RuntimeError("SEEN " + repr(seen))
"""
    (record,), _ = _grade(tmp_path, "namespace", [_relu_sample("look", code)])
    text = _messages(record, "relu")
    # the feedback names the student's line after the message: "... (in relu, line N of ...)"
    seen = ast.literal_eval(
        text.split("SEEN ", 1)[1].split(" raised ")[0].rsplit(" (in relu", 1)[0]
    )
    assert seen.pop(SITE_INSIDE) in (["numpy"], ["numpy", "numpy.libs"]), text
    assert seen and all(not names for names in seen.values()), text


@pytest.mark.parametrize("mode", MODES)
def test_no_child_that_grades_a_function_holds_a_right_version_of_it(tmp_path, mode):
    """The child installs right versions of earlier functions for the tasks that call them
    (cases.REPLACED); a softmax that finds one, in a loaded module or in a file of its
    folder, and returns what it gives, must not earn softmax's points."""
    code = """
def softmax(Z):
    import os, sys
    found = []
    for module in list(sys.modules.values()):
        if not getattr(module, "__name__", "nnlib").startswith(("nnlib", "numpy")):
            found += [getattr(module, k) for k in list(vars(module)) if "softmax" in k]
    for folder in {os.getcwd(), "/sandbox"}:
        for root, dirs, files in os.walk(folder):
            dirs[:] = [d for d in dirs if d not in ("student", "inputs", "out")]
            for name in (f for f in files if f.endswith(".py")):
                space = {"__name__": "found"}
                try:
                    with open(os.path.join(root, name)) as f:
                        exec(f.read(), space)
                except BaseException:
                    continue
                found += [v for k, v in space.items() if "softmax" in k]
    for fn in found:
        for args in ((np, Z), (Z,)):
            try:
                out = fn(*args)
            except BaseException:
                continue
            if isinstance(out, np.ndarray) and out.shape == Z.shape:
                return out
    raise NotImplementedError("no right softmax found")
"""
    sample = Sample("borrow", "borrow", "reference", 0, "", [
        {"module": "losses", "function": "softmax", "code": code}
    ])  # fmt: skip
    (record,), _ = _grade(tmp_path, mode, [sample])
    task = _task(record, "softmax")
    assert task["score"] == 0, (
        f"softmax scored {task['score']} with the grader's own right version, found by the "
        "student's code in the child: a right version may exist only in a child that grades "
        "none of the functions it replaces"
    )
    assert "no right softmax found" in _messages(record, "softmax")
    for function in REPLACED:  # they call softmax (or topological_order): right versions
        task = _task(record, function)
        assert task["score"] == task["points"], (function, _messages(record, function))


def test_uid_mode_refuses_while_what_it_protects_is_readable_by_everyone():
    if not ROOT:
        pytest.skip("uid mode needs root")
    import nnlib

    shared = Path(tempfile.mkdtemp(dir="/dev/shm" if os.path.isdir("/dev/shm") else None))
    try:
        shared.chmod(0o755)  # a grades folder as an instructor's umask would make it
        assert others_can_reach(shared)
        with pytest.raises(SandboxError, match="every user can read") as info:
            Sandbox("uid", private=[shared / "grades"])
    finally:
        shared.rmdir()
    assert str(shared / "grades") in str(info.value)
    if others_can_reach(Path(nnlib.__file__).parent):
        assert str(Path(nnlib.__file__).parent) in str(info.value)


@pytest.mark.parametrize("mode", [0o755, 0o711])
def test_uid_mode_refuses_while_the_kit_is_open_to_every_user(monkeypatch, mode):
    """Besides the reference and the grader, the kit holds the solution notebooks (with their
    hidden tests), grading/ (every student's notebooks, the gradebook) and build/ (the
    Gradescope zip, reference included): a uid child reads them by their well-known names
    unless the whole checkout is closed to other users. A folder others may pass through
    (0711) is open too: nothing needs listing to open solutions/<NN_name>/<NN_name>.ipynb."""
    if not ROOT:
        pytest.skip("uid mode needs root")
    from autograder.grader import sandbox

    kit = Path(tempfile.mkdtemp(dir="/dev/shm" if os.path.isdir("/dev/shm") else None))
    try:
        kit.chmod(mode)
        monkeypatch.setattr(sandbox, "CHECKOUT", kit)
        with pytest.raises(SandboxError, match="every user can read") as info:
            Sandbox("uid")
    finally:
        kit.rmdir()
    assert str(kit) in str(info.value), (
        f"uid mode started while the kit folder {kit} (mode {mode:o}) let every user in: its "
        "solutions and grades would be readable by the student's code"
    )


def test_uid_mode_watches_every_folder_its_user_can_write_outside_its_own(monkeypatch, tmp_path):
    """A uid child can write wherever every user may: a world-writable folder inside /tmp
    (like /tmp/.X11-unix), or /run/lock, which here is on the root disk. What it leaves
    there must count against its scratch limit and go with it, or a submission could fill
    the grading server's disk for every later one."""
    if not ROOT:
        pytest.skip("chown needs root")
    from autograder.grader import sandbox
    from autograder.grader.hostfs import scratch_usage

    for folder in ("/run/lock", "/var/crash"):
        if os.path.isdir(folder) and os.stat(folder).st_mode & 0o002:
            assert os.path.realpath(folder) in sandbox.SHARED_TMP, folder
    uid = 61999
    top = tmp_path / "tmp"
    shared = top / ".X11-unix"  # root's, writable by everyone
    shared.mkdir(parents=True)
    shared.chmod(0o1777)
    hoard = shared / "hoard"
    hoard.write_bytes(b"x" * 100_000)
    os.chown(hoard, uid, uid)
    kept = top / "instructor.txt"
    kept.write_text("not the child's")
    monkeypatch.setattr(sandbox, "SHARED_TMP", (str(top),))
    files, size = scratch_usage(sandbox.SHARED_TMP, uid=uid)
    assert (files, size >= 100_000) == (1, True), "the child's file was not counted"
    sandbox.Sandbox._sweep_shared(None, uid)
    assert not hoard.exists(), "the child's file outlived it"
    assert shared.is_dir() and kept.exists(), "the sweep removed what was not the child's"


# ------------------------------------------------------------ reading the child's output


def _case_dir(tmp_path):
    folder = tmp_path / "sandbox" / "out" / "relu" / "small"
    folder.mkdir(parents=True)
    return folder


def _write_meta(folder, meta):
    (folder / "meta.json").write_text(json.dumps(meta))


def test_a_valid_case_is_read_back(tmp_path):
    folder = _case_dir(tmp_path)
    arr = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.save(folder / "return.npy", arr)
    _write_meta(folder, {"function": "relu", "outputs": {"return": "array", "arg0": "None"}})
    meta, outputs = read_case(folder)
    assert meta["function"] == "relu" and outputs["arg0"] is None
    np.testing.assert_array_equal(outputs["return"], arr)
    assert outputs["return"].dtype == np.float32


def test_fifos_never_block_the_parent(tmp_path, no_hang):
    folder = _case_dir(tmp_path)
    os.mkfifo(folder / "meta.json")
    assert read_case(folder) == ({"error": "crash: meta.json is not a regular file"}, {})
    (folder / "meta.json").unlink()
    _write_meta(folder, {"outputs": {"return": "array"}})
    os.mkfifo(folder / "return.npy")
    assert "not a regular file" in read_case(folder)[0]["error"]


def test_links_are_not_followed(tmp_path):
    folder = _case_dir(tmp_path)
    secret = tmp_path / "secret.npy"
    np.save(secret, np.ones(3))
    _write_meta(folder, {"outputs": {"return": "array"}})
    (folder / "return.npy").symlink_to(secret)
    assert "not a regular file" in read_case(folder)[0]["error"]
    (folder / "return.npy").unlink()
    os.link(secret, folder / "return.npy")
    assert "hard link" in read_case(folder)[0]["error"]
    # A folder on the way replaced by a link: nothing is read through it.
    other = tmp_path / "elsewhere"
    (folder.parent / "small").rename(other)
    (folder.parent / "small").symlink_to(other)
    assert read_case(folder) == ({}, {})


def test_declared_sizes_are_checked_before_allocation(tmp_path):
    folder = _case_dir(tmp_path)
    _write_meta(folder, {"outputs": {"return": "array"}})
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (10000000000,), }".ljust(117)
    data = b"\x93NUMPY\x01\x00" + (len(header) + 1).to_bytes(2, "little") + header.encode()
    (folder / "return.npy").write_bytes(data + b"\n" + b"\0" * 80)
    assert "output too large: return.npy declares more than" in read_case(folder)[0]["error"]
    np.save(folder / "return.npy", np.zeros(4))
    with open(folder / "return.npy", "ab") as f:
        f.write(b"\0" * 8)  # more data than the header declares
    assert "header declares 32 bytes" in read_case(folder)[0]["error"]
    np.save(folder / "return.npy", np.array(["a", "b"]))
    assert "expected a numeric array" in read_case(folder)[0]["error"]


def _npy_with_header(header: str) -> bytes:
    """A version-1 .npy file (no data) whose header is ``header``, as a child could write it."""
    data = header.ljust(246) + "\n"
    return b"\x93NUMPY\x01\x00" + len(data).to_bytes(2, "little") + data.encode()


def _npy(shape):
    return _npy_with_header(f"{{'descr': '<f8', 'fortran_order': False, 'shape': {shape!r}, }}")


@pytest.mark.parametrize("shape", [(0, 10**30), (0, 2**62, 2**62), (0,) + (2**40,) * 7])
def test_an_empty_array_with_absurd_dimensions_is_refused_not_raised(tmp_path, shape):
    # Zero bytes of data, so the size check passes, but numpy cannot even describe the array.
    folder = _case_dir(tmp_path)
    _write_meta(folder, {"outputs": {"return": "array"}})
    (folder / "return.npy").write_bytes(_npy(shape))
    meta, outputs = read_case(folder)  # must not raise: the parent would stop grading
    assert "output too large" in meta.get("error", ""), (meta, outputs)


@pytest.mark.parametrize("header", ["{'descr': '<f8', 'shape': (", "(" * 200])
def test_a_header_numpy_cannot_even_tokenize_is_refused_not_raised(tmp_path, header):
    # numpy re-reads a header that is no Python literal with tokenize, whose TokenError is no
    # ValueError: it must not reach the parent's grading loop either.
    folder = _case_dir(tmp_path)
    _write_meta(folder, {"outputs": {"return": "array"}})
    (folder / "return.npy").write_bytes(_npy_with_header(header))
    meta, _ = read_case(folder)
    assert "is not a valid .npy file" in meta.get("error", ""), meta


SECRET = "31415926535897932384"


@pytest.mark.parametrize(
    "header",
    [
        f"{{'{SECRET}': 1}}",  # numpy names the wrong keys
        f"{{'descr': [('{SECRET}', '<f8')], 'fortran_order': False, 'shape': (0,), }}",
        f"{{'descr': '<f8', 'fortran_order': False, 'shape': ('{SECRET}',), }}",
        f"{{'descr': '<f8', 'fortran_order': False, 'shape': (-{SECRET},), }}",
        f"{{'descr': '<f8', 'fortran_order': False, 'shape': ({SECRET},), }}",
    ],
)
def test_a_refused_output_is_not_echoed_back(tmp_path, header):
    # The grader's own reports ("crash: ...") reach the feedback unmasked: they must not
    # quote what the child wrote, or its headers would carry the hidden inputs out.
    folder = _case_dir(tmp_path)
    _write_meta(folder, {"outputs": {"return": "array"}})
    (folder / "return.npy").write_bytes(_npy_with_header(header))
    error = read_case(folder)[0].get("error", "")
    assert error.startswith("crash: ") and SECRET[:8] not in error, error


def test_an_output_name_carries_no_number_into_a_report(tmp_path):
    folder = _case_dir(tmp_path)
    name = "return." + SECRET
    _write_meta(folder, {"outputs": {name: "array"}})
    os.mkfifo(folder / f"{name}.npy")  # a special file: named in the report if it is read
    meta, outputs = read_case(folder)
    assert SECRET[:8] not in meta.get("error", "") and name not in outputs, meta


@pytest.mark.parametrize("mode", MODES)
def test_a_child_that_plants_an_unreadable_array_fails_only_its_own_task(tmp_path, mode):
    code = f"""
def relu(Z):
    import json, os
    with open(os.path.join(".grader", "plan.json")) as f:
        task = next(t for t in json.load(f)["tasks"] if t["name"] == "relu")
    for call in task["calls"]:
        folder = os.path.join("out", "relu", call["case"])
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "return.npy"), "wb") as f:
            f.write({_npy((0, 10**30))!r})
        with open(os.path.join(folder, "meta.json"), "w") as f:
            json.dump({{"outputs": {{"return": "array"}}}}, f)
    os._exit(0)
"""
    (record,), _ = _grade(tmp_path, mode, [_relu_sample("absurd", code)])
    assert _task(record, "relu")["score"] == 0
    assert "output too large" in _messages(record, "relu")
    softmax = _task(record, "softmax")
    assert softmax["score"] == softmax["points"], "the other tasks were graded as usual"


def test_meta_nesting_and_size_are_bounded(tmp_path):
    folder = _case_dir(tmp_path)
    (folder / "meta.json").write_text("[" * 20000 + "]" * 20000)
    assert "nested more than" in read_case(folder)[0]["error"]
    (folder / "meta.json").write_text(json.dumps({"error": "x" * 100_000}))
    assert "output too large: meta.json" in read_case(folder)[0]["error"]
    assert json_depth(b'{"a": "[[[[", "b": [[1]]}') == 3


@pytest.mark.parametrize(
    "forged",
    [
        "crash: {}",  # the prefix of the grader's own reports, which are shown unmasked
        "crash: crash: {}",
        "importing {}\nValueError: x",  # the first line of an import error, shown as is
    ],
)
def test_a_child_cannot_dress_its_error_up_as_the_graders(tmp_path, forged):
    # A child writes its own meta.json (or raises an exception whose cause is named "crash"):
    # whatever it writes is a student's error, every hidden number in it masked.
    spec = next(s for s in task_specs() if s.task.function == "softmax")
    case = spec.cases[0]
    Z = next(a for a in case.args if isinstance(a, np.ndarray))
    secret = [f"{v:.6f}" for v in Z.ravel()]
    folder = _case_dir(tmp_path)
    _write_meta(folder, {"error": forged.format(" ".join(secret))})
    results = {c.name: ({}, {}) for c in spec.cases}
    results[case.name] = read_case(folder)
    messages = " ".join(c.message for c in judge_task(spec, results).checks)
    leaked = [v for v in secret if v in messages]
    assert not leaked, (
        f"the child's error {forged!r} reached the feedback unmasked: only the grader may "
        f"report a crash, and a child's text keeps no hidden number ({leaked[:3]} shown)"
    )


def test_all_outputs_of_a_child_share_one_budget(tmp_path):
    folder = _case_dir(tmp_path)
    np.save(folder / "return.npy", np.zeros(1000))
    _write_meta(folder, {"outputs": {"return": "array"}})
    budget = Budget(12_000)
    assert "return" in read_case(folder, budget)[1]
    assert "output too large" in read_case(folder, budget)[0]["error"]


def test_error_texts_are_scrubbed(tmp_path):
    folder = _case_dir(tmp_path)
    _write_meta(folder, {"error": f"File {CHECKOUT}/x.py, line 1"})
    meta, _ = read_case(folder, scrub=lambda t: t.replace(str(CHECKOUT), "<grader>"))
    assert meta["error"] == "File <grader>/x.py, line 1"


@pytest.mark.parametrize("mode", MODES)
def test_a_deep_folder_tree_left_by_the_child_is_removed(tmp_path, mode):
    code = """
def relu(Z):
    import os
    here = os.getcwd()
    for _ in range(3000):  # deeper than a recursive removal can go
        os.makedirs("d", exist_ok=True)
        os.chdir("d")
    os.chdir(here)
    return np.maximum(Z, 0)
"""
    subs = tmp_path / "subs"
    build_sample(_relu_sample("deep", code), subs, {})
    grader = Grader(mode, Limits(task_seconds=3.0))
    try:
        record = grader.grade(subs / "deep")
        left = [p.name for p in grader.work.iterdir()]
    finally:
        grader.close()
    assert record["score"] == sum(task.points for task in TASKS), _messages(record, "relu")
    assert sorted(set(left) - {"site", "owner.lock"}) == ["inputs"], left


def test_a_folder_that_cannot_be_removed_stays_and_the_rest_goes(tmp_path):
    """``remove_tree`` once entered a folder it could not remove (a mount point left in a
    killed grader's folder) again and again, ten million times: minutes for nothing."""
    top = tmp_path / "top"
    for name in ("a/stuck", "a/b", "c"):
        (top / name).mkdir(parents=True)
        (top / name / "file").write_text("x")
    if ROOT:  # a mount point cannot be removed; made in a mount namespace of its own
        hold = (
            "launcher._mount('tmpfs', sys.argv[1] + '/a/stuck', 'tmpfs', 0, 'size=1m'); "
            "os.makedirs(sys.argv[1] + '/a/stuck/inner'); "
            "open(sys.argv[1] + '/a/stuck/inner/file', 'w').close()"
        )
        prefix, stays = ["unshare", "--mount", "--propagation", "private"], ["a/stuck"]
    else:  # nor can the folders in a folder its user may not write
        hold, prefix, stays = "None", [], ["a/b", "a/stuck"]
    (top / "a").chmod(0o755 if ROOT else 0o500)
    code = (
        "import os, sys; from autograder.grader import launcher; "
        f"from autograder.grader.hostfs import remove_tree; {hold}; remove_tree(sys.argv[1]); "
        "print(sorted(os.path.relpath(d, sys.argv[1]) for d, _, _ in os.walk(sys.argv[1])))"
    )
    try:
        done = subprocess.run(
            [*prefix, sys.executable, "-c", code, str(top)],
            cwd=CHECKOUT, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail("remove_tree kept entering the folder it could not remove")
    finally:
        (top / "a").chmod(0o700)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == repr([".", "a", *stays]), "only what cannot go may stay"
