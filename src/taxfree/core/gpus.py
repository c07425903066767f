"""Which GPUs a job runs on: each job logs them, and on a workstation no two jobs share one."""

from __future__ import annotations

import fcntl
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, TextIO

# Per user: in a shared, world-writable temp dir another user could otherwise plant links or hold the locks.
LOCK_DIR = Path(tempfile.gettempdir()) / f"taxfree-gpu-locks-{os.getuid()}"
_held: list[IO[str]] = []  # open lock files: a GPU stays this process's until it exits


def nvidia_smi_list() -> list[str]:
    """`nvidia-smi -L` lines (one per visible GPU); none without the NVIDIA driver."""
    if shutil.which("nvidia-smi") is None:
        return []
    listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True)
    return listed.stdout.splitlines() if listed.returncode == 0 else []


def claim_gpus(gpus: list[int], count: int = 1, lock_dir: Path | None = None, poll_s: float = 5.0) -> list[int]:
    """Lock `count` of `gpus` that no other process holds (lock files in `lock_dir`, default
    LOCK_DIR), waiting until enough are free."""
    lock_dir = lock_dir or LOCK_DIR
    waited = False
    while True:
        claimed: dict[int, IO[str]] = {}
        for gpu in gpus:
            handle = open_lock_file(lock_dir, f"gpu{gpu}.lock")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            claimed[gpu] = handle
            if len(claimed) == count:
                _held.extend(claimed.values())
                return list(claimed)
        for handle in claimed.values():
            handle.close()
        if not waited:
            print(f"waiting for {count} free GPU(s) of {gpus} (locks in {lock_dir})", file=sys.stderr, flush=True)
            waited = True
        time.sleep(poll_s)


def open_lock_file(lock_dir: Path, name: str) -> IO[str]:
    """Open (creating) ``lock_dir/name`` without following links, in a directory that must be this
    user's own and closed to others (created 0700 if missing); OSError names the path otherwise."""
    lock_dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        lock_dir.mkdir(mode=0o700)
    except FileExistsError:
        pass
    dir_fd = os.open(lock_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        info = os.fstat(dir_fd)
        if info.st_uid != os.geteuid() or info.st_mode & 0o077:
            raise PermissionError(f"GPU lock dir {lock_dir} must be owned by uid {os.geteuid()} and closed to "
                                  f"others (is uid {info.st_uid}, mode {stat.filemode(info.st_mode)}): remove it")
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                     dir_fd=dir_fd)
    finally:
        os.close(dir_fd)
    if not stat.S_ISREG(os.fstat(fd).st_mode):  # a fifo or device planted under the lock's name
        os.close(fd)
        raise PermissionError(f"GPU lock {lock_dir / name} is not a regular file: remove it")
    return os.fdopen(fd, "a")


def pin_and_log_gpus(stream: TextIO | None = None, count: int = 1) -> None:
    """Log the job's GPUs; without a scheduler's choice, first take ``count`` GPUs no other job holds
    (e.g. a vLLM job's tensor-parallel GPUs).

    SLURM (or the user) sets CUDA_VISIBLE_DEVICES and is obeyed; processes started by a
    distributed launcher (LOCAL_RANK set) share their launcher's devices.
    """
    stream = stream or sys.stderr
    listed = nvidia_smi_list()
    if listed and "CUDA_VISIBLE_DEVICES" not in os.environ and "LOCAL_RANK" not in os.environ:
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, claim_gpus(list(range(len(listed))), count)))
    for line in listed:
        print(f"nvidia-smi -L: {line}", file=stream)
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        print(f"CUDA_VISIBLE_DEVICES={os.environ['CUDA_VISIBLE_DEVICES']}", file=stream)
    stream.flush()
