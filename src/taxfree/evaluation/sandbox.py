"""Run untrusted Python (model-written code) in a separate, contained process per sample.

Each sample runs in a launcher process that this module starts as a script (standard
library only, so a sample costs one bare interpreter). The launcher forks the sample's
process, which, before the program runs:

* enters new mount, PID, network and IPC namespaces (as root directly; as another user
  inside a new user namespace, where the kernel allows unprivileged ones);
* changes root to a private, read-only view that holds only the interpreter and its
  libraries (``/usr``, ``/lib*``, the Python prefixes, ``/etc/ld.so.cache`` and a few
  ``/dev`` nodes), with a fresh ``/proc`` and private, size-limited tmpfs mounts on
  ``/sandbox`` (the working directory, ``HOME`` and ``TMPDIR``), ``/tmp``, ``/var/tmp``
  and ``/dev/shm``.
  Nothing else of the machine is visible, and nothing written survives the sample;
* drops every capability, including the bounding set (as root it also becomes a uid of
  its own, so the process cap counts that sample's processes only) and sets ``no_new_privs``;
* sets hard OS limits: CPU seconds, address space, file size, processes, no core dumps.

The sample's process is PID 1 of its namespace: when it exits or is killed (on timeout,
by the launcher), the kernel kills everything the program started, daemons included,
and ``kill(-1)`` reaches nothing outside. Where the namespaces are not available,
``run_program`` raises ``SandboxUnavailable`` unless called with ``unsafe=True``,
which runs the program with the limits and the guard only.

A sample passes only when the launcher saw its program run to the end: after the
program returns, the child writes a per-run nonce, which it read from the parent before
the program started, to a pipe that only the parent reads. Exiting early with status 0
(``sys.exit(0)``, ``os._exit(0)``, ``unittest.main()``) is a failure. The nonce lives in
the sample's memory, so a program written to read the harness's frames could still
forge it; the check stops programs that merely end before their tests.

A Python-level guard, installed last, refuses writes outside the working directory,
spawning and signalling processes and new sockets: defence in depth against careless
code, not a security boundary (``ctypes`` gets round it).
"""

from __future__ import annotations

import ctypes
import json
import linecache
import os
import platform
import signal
import sys
import time
import traceback
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import BinaryIO

# Modules only the parent needs are imported where used: every sample starts this file afresh.

EXIT_FAILED = 1  # an AssertionError or a non-zero sys.exit: the program ran and failed its tests
EXIT_ERROR = 3  # any other exception, in the program or in setting up the sandbox
UNISOLATED = b"unisolated: "  # on the control pipe: the kernel refused the namespaces (and why)
TAIL_CHARS = 2000
NONCE_BYTES = 16
_UID_BASE = 1 << 30  # as root, sandbox uid = base + launcher pid: unique while the launcher lives
_CLONE_NEWNS, _CLONE_NEWIPC, _CLONE_NEWUSER, _CLONE_NEWPID, _CLONE_NEWNET = (
    0x20000, 0x8000000, 0x10000000, 0x20000000, 0x40000000)
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MS_REMOUNT = 1, 2, 4, 8, 32
_MS_NOATIME, _MS_NODIRATIME, _MS_BIND, _MS_REC, _MS_PRIVATE, _MS_RELATIME = (
    1024, 2048, 4096, 16384, 1 << 18, 1 << 21)
_MNT_DETACH = 2
_PR_SET_PDEATHSIG, _PR_CAPBSET_DROP, _PR_SET_NO_NEW_PRIVS = 1, 24, 38
_CAPABILITY_VERSION_3 = 0x20080522
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
# The read-only view: the dynamic loader's cache and libraries, plus the Python prefixes (added at run time).
_SYSTEM_PATHS = ("/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin", "/etc/ld.so.cache")
_DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
_SCRATCH = "/sandbox"  # the working directory, HOME and TMPDIR
_PRIVATE_TMPFS = (_SCRATCH, "/tmp", "/var/tmp", "/dev/shm")


class SandboxUnavailable(RuntimeError):
    """The kernel refused the namespaces the sandbox needs (and running without them was not allowed)."""


@dataclass(frozen=True)
class Limits:
    """Per-sample limits; ``timeout_s`` is wall clock, ``cpu_s`` CPU time; threads count as processes;
    ``tmp_bytes`` caps each private tmpfs (the working directory, ``/tmp``, ``/var/tmp``, ``/dev/shm``)."""

    timeout_s: float = 10.0
    cpu_s: int = 10
    memory_bytes: int = 2 * 1024**3
    max_processes: int = 16
    max_file_bytes: int = 16 * 1024**2
    tmp_bytes: int = 64 * 1024**2


@dataclass(frozen=True)
class SandboxResult:
    """``status`` is passed (the program ran to its end), failed (assertion, non-zero exit, or an exit
    before its end), error (other exception, memory, signal) or timeout (wall clock or CPU time);
    output is the tail only."""

    status: str
    returncode: int | None
    stdout: str
    stderr: str
    duration_s: float

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity, which SLURM and taskset set), not the machine's."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def run_programs(programs: Sequence[str], limits: Limits = Limits(), workers: int | None = None,
                 unsafe: bool = False) -> list[SandboxResult]:
    """Run each program in its own sandbox, ``workers`` (default: the usable CPUs) at a time, results
    in input order. Threads suffice: each worker only waits on its launcher process."""
    with ThreadPoolExecutor(max_workers=workers or usable_cpus()) as pool:
        return list(pool.map(lambda program: run_program(program, limits, unsafe=unsafe), programs))


def run_program(program: str, limits: Limits = Limits(), scratch_root: str | None = None,
                unsafe: bool = False) -> SandboxResult:
    """Run one program; its launcher's files live in a fresh directory under ``scratch_root``
    (the system temp dir by default), removed afterwards. ``unsafe`` runs it even where the
    namespaces are not available (limits and guard only)."""
    import shutil
    import tempfile

    base = tempfile.mkdtemp(prefix="taxfree-sandbox-", dir=scratch_root)
    try:
        for name in ("scratch", "root"):
            os.mkdir(os.path.join(base, name))
        with open(os.path.join(base, "program.py"), "w", encoding="utf-8") as handle:
            handle.write(program)
        return _run_launcher(base, limits, unsafe)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _run_launcher(base: str, limits: Limits, unsafe: bool) -> SandboxResult:
    import secrets
    import subprocess

    nonce = secrets.token_bytes(NONCE_BYTES)
    report_read, report_write = os.pipe()  # the sample's "ran to the end" nonce
    control_read, control_write = os.pipe()  # the launcher's word: "timeout" or "unisolated: why"
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONIOENCODING": "utf-8"}
    command = [sys.executable, "-I", "-B", os.path.abspath(__file__), base, json.dumps(asdict(limits)),
               str(report_write), str(control_write), "unsafe" if unsafe else "safe"]
    start = time.monotonic()
    try:
        with open(os.path.join(base, "stdout"), "wb+") as out, open(os.path.join(base, "stderr"), "wb+") as err:
            proc = subprocess.Popen(command, cwd=base, env=env, stdin=subprocess.PIPE, stdout=out, stderr=err,
                                    pass_fds=(report_write, control_write), start_new_session=True)
            os.close(report_write)
            os.close(control_write)
            report_write = control_write = -1
            try:
                proc.stdin.write(nonce)
                proc.stdin.close()
            except BrokenPipeError:
                pass  # the launcher failed at once; its exit status tells
            try:
                # The launcher enforces the timeout itself; this is the backstop should it hang.
                backstop = not _wait_unreaped(proc.pid, start + limits.timeout_s + 10)
            finally:  # also when interrupted: nothing of the sample may outlive this call
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                returncode = proc.wait()
            duration = time.monotonic() - start
            stdout, stderr = _tail(out), _tail(err)
        report, control = _drain(report_read), _drain(control_read)
    finally:
        for fd in (report_read, report_write, control_read, control_write):
            if fd >= 0:
                os.close(fd)
    if control.startswith(UNISOLATED) and not unsafe:
        raise SandboxUnavailable(f"sandbox: {control.decode(errors='replace')}\nThe code grader needs Linux namespaces (see "
                                 "taxfree.evaluation.sandbox); where they are not available, set the "
                                 "benchmark's unsafe_code_execution: true (`taxfree grade --unsafe-code-execution`) "
                                 "to run model code without them.")
    if backstop or control == b"timeout":
        return SandboxResult("timeout", None, stdout, stderr, duration)
    status = "passed" if report == nonce else _status(returncode)
    return SandboxResult(status, returncode, stdout, stderr, duration)


def _drain(fd: int) -> bytes:
    """All a pipe holds once every writer is gone (bounded: a program may have filled it)."""
    os.set_blocking(fd, False)
    chunks = []
    try:
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    except BlockingIOError:
        pass
    return b"".join(chunks)


def _wait_unreaped(pid: int, deadline: float) -> bool:
    """Wait for a child to exit without reaping it, so that its pid (and process group) cannot be
    reused before the cleanup has run. False on timeout."""
    delay = 0.001
    while os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is None:
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.005)
    return True


def _tail(handle: BinaryIO) -> str:
    handle.seek(0, os.SEEK_END)
    handle.seek(max(0, handle.tell() - 4 * TAIL_CHARS))
    return handle.read().decode("utf-8", errors="replace")[-TAIL_CHARS:]


def _status(returncode: int) -> str:
    """The status of a program that did not report reaching its end."""
    if returncode in (0, EXIT_FAILED):  # 0: it exited before its end, so its tests did not all run
        return "failed"
    if returncode == -signal.SIGXCPU:
        return "timeout"
    return "error"


# ---- the launcher and the sample's process ------------------------------------------------


def _launcher_main(base: str, limits_json: str, report_fd: str, control_fd: str, mode: str) -> None:
    """Enter the namespaces, fork the sample's process, wait for it (killing it at the timeout)
    and exit as it did."""
    start = time.monotonic()
    limits = Limits(**json.loads(limits_json))
    nonce = _read_nonce()
    libc = ctypes.CDLL(None, use_errno=True)
    control = int(control_fd)
    try:
        isolated = _enter_namespaces(libc)
    except OSError as exc:
        _unisolated(control, exc, mode)
        isolated = False
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # the sample's signal is re-raised here
    launcher_pid = os.getpid()
    pid = os.fork()
    if pid == 0:
        _sample_main(libc, base, limits, nonce, int(report_fd), control, isolated, mode, launcher_pid)
    os.close(int(report_fd))
    if not _wait_unreaped(pid, start + limits.timeout_s):
        os.kill(pid, signal.SIGKILL)  # unreaped, so the pid is still this child's
        os.waitpid(pid, 0)
        os.write(control, b"timeout")
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    code = 128 - code if code < 0 else code  # without a PID namespace the program is this child itself
    if code > 128:  # the program died of signal code - 128: die of it too, so that the parent reads -signal
        if code - 128 != signal.SIGKILL:
            signal.signal(code - 128, signal.SIG_DFL)
        os.kill(os.getpid(), code - 128)
    os._exit(code)


def _unisolated(control: int, exc: OSError, mode: str) -> None:
    """Tell the parent the namespaces failed; stop unless running without them is allowed."""
    os.write(control, UNISOLATED + str(exc).encode())
    if mode != "unsafe":
        os._exit(EXIT_ERROR)


def _read_nonce() -> bytes:
    """The nonce from stdin, which then becomes /dev/null for the program."""
    nonce = b""
    while chunk := os.read(0, NONCE_BYTES):
        nonce += chunk
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    return nonce


def _enter_namespaces(libc: ctypes.CDLL) -> bool:
    """New mount, PID, network and IPC namespaces; as non-root inside a new user namespace that
    maps only our own uid and gid. Raises OSError where the kernel refuses."""
    if platform.machine() not in _SYS_PIVOT_ROOT:
        raise OSError(f"pivot_root's system call number on {platform.machine()} is not known here")
    flags = _CLONE_NEWNS | _CLONE_NEWPID | _CLONE_NEWNET | _CLONE_NEWIPC
    if os.geteuid() == 0:
        _check(libc.unshare(flags), "unshare")
        return True
    uid, gid = os.geteuid(), os.getegid()
    _check(libc.unshare(_CLONE_NEWUSER | flags), "unshare")
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        with open(f"/proc/self/{name}", "w", encoding="ascii") as handle:
            handle.write(text)
    return True


def _sample_main(libc: ctypes.CDLL, base: str, limits: Limits, nonce: bytes, report_fd: int, control: int,
                 isolated: bool, mode: str, launcher_pid: int) -> None:
    """The sample's process: contain itself, run the program as ``__main__``, report reaching its end."""
    try:
        with open(os.path.join(base, "program.py"), encoding="utf-8") as handle:
            source = handle.read()
        if isolated:
            try:
                _enter_private_root(libc, os.path.join(base, "root"), limits)
            except OSError as exc:
                _unisolated(control, exc, mode)
                isolated = False
        os.close(control)  # the program must not speak for the launcher
        scratch = _SCRATCH if isolated else os.path.join(base, "scratch")
        _drop_privileges(libc, scratch, launcher_pid, isolated)
        _set_limits(limits)
        os.chdir(scratch)
        os.environ.update(HOME=scratch, TMPDIR=scratch)
        if isolated:
            _become_init()
        _install_guard(os.path.realpath(scratch))
    except BaseException:  # noqa: BLE001 - any setup failure must be reported, not run past
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(EXIT_ERROR)
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
    os.write(report_fd, nonce)
    sys.exit(0)


def _become_init() -> None:
    """Stay behind as PID 1 of the namespace, reaping, and run the program in a child: the kernel
    shields PID 1 from signals it has no handler for (the CPU limit's SIGXCPU among them), and
    when PID 1 exits the kernel kills whatever the program left. Exits as the program did,
    a signal ``s`` as ``128 + s``."""
    program = os.fork()
    if program == 0:
        return
    while True:
        pid, status = os.wait()
        if pid == program:
            code = os.waitstatus_to_exitcode(status)
            os._exit(128 - code if code < 0 else code)


def _enter_private_root(libc: ctypes.CDLL, new_root: str, limits: Limits) -> None:
    """Make ``new_root`` a tmpfs holding read-only binds of the visible paths, private tmpfs
    mounts and a fresh /proc, and pivot into it; the old root is detached."""
    _mount(libc, None, "/", None, _MS_REC | _MS_PRIVATE)  # nothing mounted here reaches the host
    _mount(libc, "tmpfs", new_root, "tmpfs", _MS_NOSUID | _MS_NODEV, "size=1m,mode=0755")
    # The private tmpfs first, the read-only view over it: an interpreter whose prefix lies under /tmp (a
    # virtualenv there) stays visible instead of being hidden by the sample's own /tmp.
    for path in _PRIVATE_TMPFS:
        os.makedirs(new_root + path, exist_ok=True)
        _mount(libc, "tmpfs", new_root + path, "tmpfs", _MS_NOSUID | _MS_NODEV, f"size={limits.tmp_bytes},mode=1777")
    visible: list[str] = []
    for path in (*_SYSTEM_PATHS, sys.base_prefix, sys.prefix):
        if os.path.lexists(path) and not any(os.path.commonpath([path, seen]) == seen for seen in visible):
            visible.append(path)
    for path in visible:
        target = new_root + path
        if os.path.islink(path):  # e.g. /bin -> usr/bin on a merged /usr
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.symlink(os.readlink(path), target)
            continue
        _bind(libc, path, target, read_only=True)
    for device in _DEVICES:
        if os.path.exists(device):
            _bind(libc, device, new_root + device, read_only=False)
    os.makedirs(new_root + "/proc")
    _mount(libc, "proc", new_root + "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC)
    os.chdir(new_root)
    _check(libc.syscall(_SYS_PIVOT_ROOT[platform.machine()], b".", b"."), "pivot_root")
    _check(libc.umount2(b".", _MNT_DETACH), "umount2")
    os.chdir("/")
    _mount(libc, None, "/", None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | _MS_NOSUID | _MS_NODEV)


def _bind(libc: ctypes.CDLL, source: str, target: str, read_only: bool) -> None:
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "w").close()  # a mount point for a file
    _mount(libc, source, target, None, _MS_BIND | _MS_REC)
    if read_only:
        # Within a user namespace a remount must keep the flags the kernel locked (noexec, atime).
        kept = os.statvfs(source).f_flag
        flags = _MS_REMOUNT | _MS_BIND | _MS_RDONLY | _MS_NOSUID | _MS_NODEV
        for statvfs_flag, mount_flag in ((os.ST_NOEXEC, _MS_NOEXEC), (os.ST_NOATIME, _MS_NOATIME),
                                         (os.ST_NODIRATIME, _MS_NODIRATIME), (os.ST_RELATIME, _MS_RELATIME)):
            if kept & statvfs_flag:
                flags |= mount_flag
        _mount(libc, None, target, None, flags)


def _mount(libc: ctypes.CDLL, source: str | None, target: str, fstype: str | None, flags: int,
           data: str | None = None) -> None:
    encode = (lambda text: None if text is None else os.fsencode(text))
    _check(libc.mount(encode(source), encode(target), encode(fstype), ctypes.c_ulong(flags), encode(data)),
           f"mount {target}")


def _drop_privileges(libc: ctypes.CDLL, scratch: str, launcher_pid: int, isolated: bool) -> None:
    """No capabilities, bounding set included, and no way back (``no_new_privs``); root first
    becomes a uid of its own. In a user namespace the uid is already the caller's own."""
    if os.geteuid() == 0 or isolated:
        cap = 0
        while libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) == 0:
            cap += 1
    if os.geteuid() == 0:
        try:
            os.setgroups([])
        except PermissionError:  # root without capabilities (unsafe mode in a locked-down container)
            pass
        else:
            uid = _UID_BASE + launcher_pid
            if not isolated:
                os.chown(scratch, uid, uid)
            os.setgid(uid)
            os.setuid(uid)  # clears the permitted and effective capabilities
    header = (ctypes.c_uint32 * 2)(_CAPABILITY_VERSION_3, 0)
    _check(libc.capset(header, (ctypes.c_uint32 * 6)()), "capset")
    _check(libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
    # The launcher killed at the backstop takes the sample with it; set after the uid change, which clears it.
    _check(libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")


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
    _launcher_main(*sys.argv[1:])
