"""Start the grader's child in a sandbox: run as root, by a separate interpreter, before any
student code exists in the process.

``python -I -S launcher.py config.json``. It unshares a mount and a PID namespace, builds a
minimal root file system on a tmpfs (system directories, the Python installation and numpy
read-only, the child's working folder as ``/sandbox``), chroots into it, sets resource
limits, drops to an unprivileged user id and ``exec``s the runner. The reference ``nnlib``,
the grader, the output folder and other submissions are simply not in that file system.

The process that enters the PID namespace first stays as its init and waits for the runner;
when it exits (or the parent kills it), the kernel kills every process left in the
namespace, so a fork bomb or a daemonized grandchild cannot outlive its submission.
Exit status 97 means the namespaces could not be created (no privilege): the parent then
falls back to a weaker sandbox and says so.
"""

import ctypes
import json
import os
import resource
import signal
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWPID = 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT = 1, 2, 4, 32
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38
NO_NAMESPACE = 97

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]


def _check(ret, what):
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source, target, fstype, flags, data=None):
    _check(
        libc.mount(
            source.encode() if source else None,
            target.encode(),
            fstype.encode() if fstype else None,
            flags,
            data.encode() if data else None,
        ),
        f"mount {source} on {target}",
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
    root = cfg["root_dir"]
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=755")
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
    _bind(cfg["sandbox_dir"], os.path.join(root, "sandbox"), writable=True)
    os.makedirs(os.path.join(root, "tmp"), mode=0o1777, exist_ok=True)
    os.chmod(os.path.join(root, "tmp"), 0o1777)
    os.chroot(root)
    os.chdir("/sandbox")


def _limit(cfg):
    lim = cfg["limits"]
    resource.setrlimit(resource.RLIMIT_AS, (lim["address_space"], lim["address_space"]))
    resource.setrlimit(resource.RLIMIT_CPU, (lim["cpu_seconds"], lim["cpu_seconds"] + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (lim["file_size"], lim["file_size"]))
    resource.setrlimit(resource.RLIMIT_NPROC, (lim["processes"], lim["processes"]))
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # Output beyond the file-size cap fails with an error instead of killing the process.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def _drop_privileges(uid):
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
    # Dies with its init; set after setuid, which clears the parent-death signal.
    _check(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PDEATHSIG)")


def _wait_status(pid):
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def main():
    with open(sys.argv[1]) as f:
        cfg = json.load(f)
    if libc.unshare(CLONE_NEWNS | CLONE_NEWPID) != 0:
        err = ctypes.get_errno()
        print(f"sandbox: unshare failed: {os.strerror(err)}", file=sys.stderr)
        sys.exit(NO_NAMESPACE)
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    init = os.fork()
    if init:
        sys.exit(_wait_status(init))
    # PID 1 of the new namespace: build the file system, then start the runner under it.
    _check(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PDEATHSIG)")
    _build_root(cfg)
    child = os.fork()
    if child == 0:
        try:
            _limit(cfg)
            _drop_privileges(cfg["uid"])
            os.execve(cfg["argv"][0], cfg["argv"], cfg["env"])
        finally:
            os._exit(96)
    os._exit(_wait_status(child))


if __name__ == "__main__":
    main()
