"""Run untrusted Python (model-written code) in a separate, limited process per sample.

Containment, strongest first:

* OS limits, set in the child before the program runs: CPU seconds, address space,
  file size, core dumps off and a cap on processes (``RLIMIT_NPROC``), as hard limits
  that the program cannot raise again.
* When started as root, the child gives up root for a uid of its own (one per
  sample, so the process cap counts that sample's processes only: root is exempt
  from ``RLIMIT_NPROC``) with ``no_new_privs`` set. It keeps only
  ``CAP_DAC_READ_SEARCH``, the right to read files, so that an interpreter installed
  under a private directory such as ``/root`` can still import its standard library;
  at the OS level it can then write only where any user may: its scratch directory
  and world-writable places such as ``/tmp``.
* A fresh network namespace (no interfaces but a loopback that is down) where the
  kernel allows one: as root directly, otherwise inside a new user namespace.
* Wall clock: the child leads its own session; on timeout, and after every run, its
  whole process group is killed, and as root every process of its uid as well.
* A fresh scratch directory per sample as cwd, ``HOME`` and ``TMPDIR``, removed afterwards.
* A Python-level guard installed before the program runs: opening files for writing
  or changing paths outside the scratch directory, spawning processes, signalling
  other processes and creating sockets raise ``PermissionError``. This is defence in depth against careless code,
  not a security boundary: code that means harm gets round it (``ctypes``, reloading
  modules). The OS layers above are the containment.

The namespace, the privilege drop and the sweep by uid are Linux-only; elsewhere, run
as an ordinary user, the limits, the process group and the guard remain. This file is
also the child: it runs as a script with the standard library only, so starting a
sample costs one bare interpreter.
"""

from __future__ import annotations

import ctypes
import json
import linecache
import os
import signal
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import BinaryIO

# Modules only the parent needs are imported where used: every sample starts this file afresh.

EXIT_FAILED = 1  # an AssertionError or a non-zero sys.exit: the program ran and failed its tests
EXIT_ERROR = 3  # any other exception, in the program or in setting up the sandbox
TAIL_CHARS = 2000
_UID_BASE = 1 << 30  # sandbox uid = base + child pid: unique while the child lives
_CLONE_NEWUSER, _CLONE_NEWNET = 0x10000000, 0x40000000
_PR_SET_KEEPCAPS, _PR_SET_NO_NEW_PRIVS = 8, 38
_CAP_DAC_READ_SEARCH, _CAPABILITY_VERSION_3 = 2, 0x20080522


@dataclass(frozen=True)
class Limits:
    """Per-sample limits; ``timeout_s`` is wall clock, ``cpu_s`` CPU time; threads count as processes."""

    timeout_s: float = 10.0
    cpu_s: int = 10
    memory_bytes: int = 2 * 1024**3
    max_processes: int = 16
    max_file_bytes: int = 16 * 1024**2


@dataclass(frozen=True)
class SandboxResult:
    """``status`` is passed, failed (assertion or non-zero exit), error (other exception,
    memory, signal) or timeout (wall clock or CPU time); output is the tail only."""

    status: str
    returncode: int | None
    stdout: str
    stderr: str
    duration_s: float

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def run_programs(programs: Sequence[str], limits: Limits = Limits(), workers: int | None = None) -> list[SandboxResult]:
    """Run each program in its own sandbox, ``workers`` at a time, results in input order.

    Threads suffice: each worker only waits on its child process.
    """
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        return list(pool.map(lambda program: run_program(program, limits), programs))


def run_program(program: str, limits: Limits = Limits(), scratch_root: str | None = None) -> SandboxResult:
    """Run one program in a fresh scratch directory under ``scratch_root`` (the system temp dir by default)."""
    import shutil
    import tempfile

    base = tempfile.mkdtemp(prefix="taxfree-sandbox-", dir=scratch_root)
    try:
        scratch = os.path.join(base, "scratch")
        os.mkdir(scratch)
        with open(os.path.join(base, "program.py"), "w", encoding="utf-8") as handle:
            handle.write(program)
        return _run_child(base, scratch, limits)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _run_child(base: str, scratch: str, limits: Limits) -> SandboxResult:
    import subprocess

    env = {"PATH": "/usr/bin:/bin", "HOME": scratch, "TMPDIR": scratch, "LANG": "C.UTF-8",
           "PYTHONIOENCODING": "utf-8"}
    command = [sys.executable, "-I", "-B", os.path.abspath(__file__), base, json.dumps(asdict(limits))]
    start = time.monotonic()
    with open(os.path.join(base, "stdout"), "wb+") as out, open(os.path.join(base, "stderr"), "wb+") as err:
        proc = subprocess.Popen(command, cwd=scratch, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                start_new_session=True)
        try:
            timed_out = not _wait_unreaped(proc.pid, start + limits.timeout_s)
        finally:  # also when interrupted: nothing of the sample may outlive this call
            _kill_everything(proc.pid)
            returncode = proc.wait()
        duration = time.monotonic() - start
        stdout, stderr = _tail(out), _tail(err)
    status = "timeout" if timed_out else _status(returncode)
    return SandboxResult(status, None if timed_out else returncode, stdout, stderr, duration)


def _wait_unreaped(pid: int, deadline: float) -> bool:
    """Wait for the child to exit without reaping it, so its pid, process group and uid
    cannot be reused by another sample before the cleanup has run. False on timeout."""
    delay = 0.001
    while os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is None:
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.005)
    return True


def _kill_everything(pid: int) -> None:
    """Kill the child's process group and, when the child dropped root, every process of its uid
    (which also catches processes that left the group with ``setsid``)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if os.geteuid() == 0 and os.path.isdir("/proc"):
        for _ in range(200):  # bounded: a process stuck in the kernel may take a while to die
            if not _kill_uid(_UID_BASE + pid):
                break
            time.sleep(0.005)


def _kill_uid(uid: int) -> int:
    """SIGKILL every live process whose real uid is ``uid``; the number signalled."""
    killed = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", encoding="ascii", errors="replace") as handle:
                fields = dict(line.split(":", 1) for line in handle if ":" in line)
            if int(fields["Uid"].split()[0]) == uid and fields["State"].split()[0] != "Z":
                os.kill(int(entry), signal.SIGKILL)
                killed += 1
        except (OSError, KeyError, ValueError):
            continue  # the process went away while we looked
    return killed


def _tail(handle: BinaryIO) -> str:
    handle.seek(0, os.SEEK_END)
    handle.seek(max(0, handle.tell() - 4 * TAIL_CHARS))
    return handle.read().decode("utf-8", errors="replace")[-TAIL_CHARS:]


def _status(returncode: int) -> str:
    if returncode == 0:
        return "passed"
    if returncode == EXIT_FAILED:
        return "failed"
    if returncode == -signal.SIGXCPU:
        return "timeout"
    return "error"


# ---- the child -------------------------------------------------------------------------


def _child_main(base: str, limits_json: str) -> None:
    """Set up containment, then run the program as ``__main__`` and map its outcome to an exit code."""
    scratch = os.path.join(base, "scratch")
    try:
        with open(os.path.join(base, "program.py"), encoding="utf-8") as handle:
            source = handle.read()
        libc = ctypes.CDLL(None, use_errno=True)
        _isolate_network(libc)
        _set_limits(Limits(**json.loads(limits_json)))
        if os.geteuid() == 0:
            _drop_root(libc, scratch)
        os.chdir(scratch)
        _install_guard(os.path.realpath(scratch))
    except BaseException:  # noqa: BLE001 - any setup failure must be reported, not run past
        traceback.print_exc()
        sys.exit(EXIT_ERROR)
    sys.argv = ["program.py"]
    linecache.cache["program.py"] = (len(source), None, source.splitlines(keepends=True), "program.py")  # tracebacks
    try:
        code = compile(source, "program.py", "exec")
        exec(code, {"__name__": "__main__", "__builtins__": __builtins__})  # noqa: S102 - the point of a sandbox
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001
        # The traceback starts at the program: its first frame is this launcher.
        traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next)
        sys.exit(EXIT_FAILED if isinstance(exc, AssertionError) else EXIT_ERROR)


def _isolate_network(libc: ctypes.CDLL) -> None:
    """Enter a new network namespace; as non-root this needs a new user namespace too.
    Where the kernel refuses, stay put: the socket guard is then the only barrier."""
    if hasattr(libc, "unshare"):
        libc.unshare(_CLONE_NEWNET if os.geteuid() == 0 else _CLONE_NEWUSER | _CLONE_NEWNET)


def _set_limits(limits: Limits) -> None:
    """Hard limits too, so the program cannot lift them. The CPU hard limit is a second
    later: at the soft one the kernel sends SIGXCPU, which reads as a timeout."""
    import resource

    for name, soft, hard in (("RLIMIT_CPU", limits.cpu_s, limits.cpu_s + 1),
                             ("RLIMIT_AS", limits.memory_bytes, limits.memory_bytes),
                             ("RLIMIT_NPROC", limits.max_processes, limits.max_processes),
                             ("RLIMIT_FSIZE", limits.max_file_bytes, limits.max_file_bytes),
                             ("RLIMIT_CORE", 0, 0)):
        if hasattr(resource, name):
            resource.setrlimit(getattr(resource, name), (soft, hard))


def _drop_root(libc: ctypes.CDLL, scratch: str) -> None:
    """Become a uid of our own, keeping only the right to read files (see the module docstring)."""
    uid = _UID_BASE + os.getpid()
    os.chown(scratch, uid, uid)
    _check(libc.prctl(_PR_SET_KEEPCAPS, 1, 0, 0, 0), "prctl(PR_SET_KEEPCAPS)")
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    header = (ctypes.c_uint32 * 2)(_CAPABILITY_VERSION_3, 0)
    read_only = 1 << _CAP_DAC_READ_SEARCH
    data = (ctypes.c_uint32 * 6)(read_only, read_only, 0, 0, 0, 0)  # effective, permitted, inheritable x 2 words
    _check(libc.capset(header, data), "capset")
    _check(libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _install_guard(scratch: str) -> None:
    """Defence in depth (see the module docstring): refuse writes outside ``scratch``,
    process spawning, signalling other processes and new sockets."""
    import builtins
    import io
    import socket
    import subprocess

    modules = [os] + ([sys.modules["posix"]] if "posix" in sys.modules else [])
    for module in modules:
        for name in ("system", "popen", "fork", "forkpty", "posix_spawn", "posix_spawnp", "setsid", "setpgid",
                     "killpg", *[n for n in dir(os) if n.startswith(("exec", "spawn"))]):
            if hasattr(module, name):
                setattr(module, name, _refuse(f"os.{name}"))
        for name in ("remove", "unlink", "rmdir", "mkdir", "rename", "replace", "chmod", "chown", "lchown", "link",
                     "symlink", "truncate", "utime", "mkfifo", "mknod"):
            if hasattr(module, name):
                setattr(module, name, _inside_only(getattr(module, name), scratch))
        module.open = _guarded_os_open(module.open, scratch)
        module.kill = _guarded_kill(module.kill)
    builtins.open = io.open = _guarded_open(io.open, scratch)
    subprocess.Popen = _RefusedPopen
    if "_posixsubprocess" in sys.modules:
        sys.modules["_posixsubprocess"].fork_exec = _refuse("_posixsubprocess.fork_exec")
    socket.socket = _guarded_socket_class(socket.socket)


def _refuse(what: str):
    def refused(*args, **kwargs):
        raise PermissionError(f"sandbox: {what} is not allowed")

    return refused


class _RefusedPopen:
    def __init__(self, *args, **kwargs) -> None:
        raise PermissionError("sandbox: subprocess is not allowed")


def _outside(path, scratch: str, dir_fd: int | None = None) -> bool:
    path = os.fsdecode(path)
    if dir_fd is not None and not os.path.isabs(path):
        path = os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), path)
    real = os.path.realpath(path)
    return real != os.devnull and os.path.commonpath([real, scratch]) != scratch


def _deny_outside(paths, scratch: str, kwargs: dict) -> None:
    if kwargs.get("src_dir_fd") is not None or kwargs.get("dst_dir_fd") is not None:
        raise PermissionError("sandbox: src_dir_fd/dst_dir_fd are not allowed")
    for path in paths:
        if isinstance(path, (str, bytes, os.PathLike)) and _outside(path, scratch, kwargs.get("dir_fd")):
            raise PermissionError(f"sandbox: writing outside the scratch directory is not allowed: {path!r}")


def _inside_only(func, scratch: str):
    def guarded(*args, **kwargs):
        _deny_outside([*args, kwargs.get("path"), kwargs.get("src"), kwargs.get("dst")], scratch, kwargs)
        return func(*args, **kwargs)

    return guarded


def _guarded_open(func, scratch: str):
    def guarded(file, mode="r", *args, **kwargs):
        if any(flag in mode for flag in "wax+"):
            _deny_outside([file], scratch, {})
        return func(file, mode, *args, **kwargs)

    return guarded


def _guarded_os_open(func, scratch: str):
    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    def guarded(path, flags, *args, **kwargs):
        if flags & writing:
            _deny_outside([path], scratch, kwargs)
        return func(path, flags, *args, **kwargs)

    return guarded


def _guarded_kill(func):
    def guarded(pid, sig):
        if pid != os.getpid():
            raise PermissionError("sandbox: signalling other processes is not allowed")
        return func(pid, sig)

    return guarded


def _guarded_socket_class(base: type) -> type:
    class GuardedSocket(base):
        """Wrapping an existing descriptor (``socketpair``, used by asyncio) is fine; a new socket is not."""

        def __init__(self, family=-1, type=-1, proto=-1, fileno=None):  # noqa: A002 - socket's own names
            if fileno is None:
                raise PermissionError("sandbox: network access is not allowed")
            super().__init__(family, type, proto, fileno)

    return GuardedSocket


if __name__ == "__main__":
    _child_main(*sys.argv[1:])
