"""Start the grader's child in its sandbox: a separate interpreter that sets the sandbox up
before any student code exists in the process, then ``exec``s the runner.

``python -I -S -B launcher.py config.json``, with the config's ``setup_fd`` inherited. Every
mode ends the same way: resource limits, ``no_new_privs``, a seccomp filter that refuses
``socket()`` (every address family, so no TCP, UDP, unix or abstract socket can be opened),
``io_uring`` (which can open sockets too), ``ptrace``, System V IPC, POSIX message queues
and ``memfd_create``; then ``exec`` of the runner.

``namespace`` (root with CAP_SYS_ADMIN)
    Unshares mount, PID, network and IPC namespaces, builds a minimal root file system on a
    size-limited tmpfs (system directories, the Python installation and numpy read-only,
    the folders of other installed packages covered by empty ones, the child's working
    folder as ``/sandbox``), chroots into it and drops to the grader's unprivileged user
    id. The process that enters the PID namespace first stays as its init and waits for the
    runner; when it exits (or the parent kills it), the kernel kills every process left in
    the namespace.
``uid`` (root without namespaces)
    Drops to the grader's unprivileged user id (no supplementary groups) in the child's
    folder.
``plain`` (not root)
    Only limits and the seccomp filter.

Set-up is reported on ``setup_fd``, a pipe the parent reads and the runner never holds
(close-on-exec): ``ready`` just before the ``exec``, or ``fail <stage>: <reason>`` (stage
``namespace`` when namespaces are unavailable). The child's exit status means nothing to
the parent: student code can forge any status, but it can never write to this pipe.
"""

import ctypes
import json
import os
import platform
import resource
import signal
import struct
import sys

CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWIPC = (
    0x00020000,
    0x20000000,
    0x40000000,
    0x08000000,
)
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT = 1, 2, 4, 32
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP = 1, 38, 22
SECCOMP_MODE_FILTER = 2

# seccomp: audit architecture and the numbers of the refused system calls, per machine.
# System V IPC and POSIX message queues outlive the process (a channel from one submission
# to the next under the same user id, and memory no limit counts); memfd_create makes
# memory files no folder limit sees.
# x86_64 also refuses every x32 system call (numbers from 0x40000000), which would bypass
# the table; any other architecture (e.g. 32-bit calls on a 64-bit kernel) kills the process.
SYSCALLS = {
    "x86_64": (0xC000003E, {"socket": 41, "ptrace": 101, "process_vm_readv": 310,
                            "process_vm_writev": 311, "io_uring_setup": 425,
                            "io_uring_enter": 426, "io_uring_register": 427,
                            "shmget": 29, "semget": 64, "msgget": 68, "mq_open": 240,
                            "memfd_create": 319}, 0x40000000),
    "aarch64": (0xC00000B7, {"socket": 198, "ptrace": 117, "process_vm_readv": 270,
                             "process_vm_writev": 271, "io_uring_setup": 425,
                             "io_uring_enter": 426, "io_uring_register": 427,
                             "shmget": 194, "semget": 190, "msgget": 186, "mq_open": 180,
                             "memfd_create": 279}, None),
}  # fmt: skip
RET_ALLOW, RET_KILL_PROCESS, RET_ERRNO = 0x7FFF0000, 0x80000000, 0x00050000
LD_ABS_W, JEQ_K, JGE_K, RET_K = 0x20, 0x15, 0x35, 0x06
EPERM = 1

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
libc.prctl.argtypes = [
    ctypes.c_int,
    ctypes.c_ulong,
    ctypes.c_void_p,
    ctypes.c_ulong,
    ctypes.c_ulong,
]


class SetupError(Exception):
    """A set-up step failed; ``stage`` says which."""

    def __init__(self, stage, message):
        super().__init__(message)
        self.stage = stage


def _check(ret, what, stage="setup"):
    if ret != 0:
        err = ctypes.get_errno()
        raise SetupError(stage, f"{what}: {os.strerror(err)}")


def _mount(source, target, fstype, flags, data=None):
    _check(
        libc.mount(
            source.encode() if source else None,
            target.encode(),
            fstype.encode() if fstype else None,
            flags,
            data.encode() if data else None,
        ),
        f"mount {source or ''} on {target}",
    )


def _bind(source, target, writable=False):
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    _mount(source, target, None, MS_BIND | MS_REC)
    flags = MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV | (0 if writable else MS_RDONLY)
    _mount(None, target, None, flags)


def _build_root(cfg):
    """Build the child's root file system on a tmpfs and chroot into it."""
    root = cfg["root_dir"]
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, cfg["root_tmpfs"])
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "etc"):
        host = "/" + name
        if os.path.islink(host):
            os.symlink(os.readlink(host), os.path.join(root, name))
        elif os.path.isdir(host):
            _bind(host, os.path.join(root, name))
    for name in ("null", "zero", "urandom", "random"):
        _bind("/dev/" + name, os.path.join(root, "dev", name), writable=True)
    for host, inside in cfg["binds"]:
        _bind(host, root + inside)
    for folder in cfg["hide"]:  # installed packages other than numpy: not for the child
        if os.path.isdir(root + folder):
            _mount("tmpfs", root + folder, "tmpfs", MS_NOSUID | MS_NODEV | MS_RDONLY, "size=4k")
    _bind(cfg["sandbox_dir"], os.path.join(root, "sandbox"), writable=True)
    os.makedirs(os.path.join(root, "tmp"), mode=0o1777, exist_ok=True)
    os.chmod(os.path.join(root, "tmp"), 0o1777)
    os.chroot(root)


def _limit(cfg):
    lim = cfg["limits"]
    resource.setrlimit(resource.RLIMIT_AS, (lim["address_space"], lim["address_space"]))
    resource.setrlimit(resource.RLIMIT_CPU, (lim["cpu_seconds"], lim["cpu_seconds"] + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (lim["file_size"], lim["file_size"]))
    if cfg["mode"] != "plain":  # counted per user id: each slot has its own
        resource.setrlimit(resource.RLIMIT_NPROC, (lim["processes"], lim["processes"]))
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # Output beyond the file-size cap fails with an error instead of killing the process.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def _drop_privileges(uid):
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


def seccomp_program(machine=None):
    """The BPF program of the filter, as bytes of ``struct sock_filter``.

    Raises
    ------
    SetupError
        On a machine whose system call numbers are not in :data:`SYSCALLS`.
    """
    machine = machine or platform.machine()
    if machine not in SYSCALLS:
        raise SetupError("seccomp", f"no seccomp filter for machine {machine!r}")
    arch, numbers, x32 = SYSCALLS[machine]
    denied = sorted(numbers.values())
    # Layout: [0] load arch, [1] arch? else kill, [2] load nr, [3] x32 check (x86_64),
    # one jeq per denied call, allow, deny, kill.
    head = 4 if x32 is not None else 3
    allow = head + len(denied)
    deny, kill = allow + 1, allow + 2
    prog = [(LD_ABS_W, 0, 0, 4), (JEQ_K, 0, kill - 2, arch), (LD_ABS_W, 0, 0, 0)]
    if x32 is not None:
        prog.append((JGE_K, deny - 4, 0, x32))
    for i, nr in enumerate(denied):
        prog.append((JEQ_K, deny - (head + i + 1), 0, nr))
    prog += [(RET_K, 0, 0, RET_ALLOW), (RET_K, 0, 0, RET_ERRNO | EPERM)]
    prog.append((RET_K, 0, 0, RET_KILL_PROCESS))
    return b"".join(struct.pack("HBBI", *ins) for ins in prog), len(prog)


def _seccomp():
    code, count = seccomp_program()
    buffer = ctypes.create_string_buffer(code, len(code))

    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    prog = Prog(count, ctypes.addressof(buffer))
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, None, 0, 0), "prctl(NO_NEW_PRIVS)", "seccomp")
    ret = libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(prog), 0, 0)
    _check(ret, "prctl(SECCOMP)", "seccomp")


def _wait_status(pid):
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def _report(fd, line):
    try:
        os.write(fd, (line.replace("\n", " ") + "\n").encode())
    except OSError:
        pass


def _become_child(cfg, setup_fd):
    """Limits, user id, filter, report ``ready``, exec: the last steps in every mode."""
    os.chdir(cfg["cwd"])
    _limit(cfg)
    if cfg["mode"] != "plain":
        _drop_privileges(cfg["uid"])
    # Dies with its parent (set after setuid, which clears the parent-death signal).
    _check(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, None, 0, 0), "prctl(PDEATHSIG)")
    _seccomp()
    _report(setup_fd, "ready")
    try:
        os.execve(cfg["argv"][0], cfg["argv"], cfg["env"])
    except OSError as exc:
        raise SetupError("exec", f"cannot run {cfg['argv'][0]}: {exc}") from exc


def _namespace(cfg, setup_fd):
    if libc.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC) != 0:
        err = ctypes.get_errno()
        raise SetupError("namespace", f"unshare failed: {os.strerror(err)}")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    init = os.fork()
    if init:
        os.close(setup_fd)
        sys.exit(_wait_status(init))
    # PID 1 of the new namespace: build the file system, then start the runner under it.
    _check(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, None, 0, 0), "prctl(PDEATHSIG)")
    _build_root(cfg)
    child = os.fork()
    if child == 0:
        _run_child(cfg, setup_fd)
    os.close(setup_fd)
    os._exit(_wait_status(child))


def _run_child(cfg, setup_fd):
    try:
        _become_child(cfg, setup_fd)
    except SetupError as exc:
        _report(setup_fd, f"fail {exc.stage}: {exc}")
    except BaseException as exc:
        _report(setup_fd, f"fail setup: {type(exc).__name__}: {exc}")
    os._exit(96)


def main():
    with open(sys.argv[1]) as f:
        cfg = json.load(f)
    setup_fd = cfg["setup_fd"]
    os.set_inheritable(setup_fd, False)  # the runner must never hold it
    try:
        if cfg["mode"] == "namespace":
            _namespace(cfg, setup_fd)
        else:
            _run_child(cfg, setup_fd)
    except SetupError as exc:
        _report(setup_fd, f"fail {exc.stage}: {exc}")
    except OSError as exc:
        _report(setup_fd, f"fail setup: {exc}")
    except SystemExit:  # the namespace's first process, passing on its init's status
        raise
    except BaseException as exc:  # anything else: say what, never exit without a word
        _report(setup_fd, f"fail setup: {type(exc).__name__}: {exc}")
    os._exit(96)


if __name__ == "__main__":
    main()
