"""GPU jobs log their GPUs, and on a workstation no two jobs hold the same one."""

import io
import os
import subprocess
import sys
import textwrap

import pytest

from taxfree.core import gpus


@pytest.fixture
def two_gpus(tmp_path, monkeypatch):
    """A fake nvidia-smi listing two GPUs, a private lock dir, and no scheduler's choice."""
    fake = tmp_path / "bin" / "nvidia-smi"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'GPU 0: Fake A (UUID: GPU-0)'\necho 'GPU 1: Fake B (UUID: GPU-1)'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    monkeypatch.setattr(gpus, "LOCK_DIR", tmp_path / "locks")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    return tmp_path / "locks"


def test_two_jobs_get_different_gpus_and_log_them(two_gpus):
    first = gpus.claim_gpus([0, 1])
    log = io.StringIO()
    gpus.pin_and_log_gpus(log)
    assert first == [0]
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "1"
    assert log.getvalue().splitlines() == ["nvidia-smi -L: GPU 0: Fake A (UUID: GPU-0)",
                                           "nvidia-smi -L: GPU 1: Fake B (UUID: GPU-1)",
                                           "CUDA_VISIBLE_DEVICES=1"]


def test_a_tensor_parallel_job_locks_all_its_gpus(two_gpus):
    """A vLLM job over two GPUs (its `gpu` resource) takes both; a second job would wait for them."""
    log = io.StringIO()
    gpus.pin_and_log_gpus(log, count=2)
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "0,1"
    job = textwrap.dedent(f"""
        import fcntl
        from pathlib import Path
        handles = [open(Path({str(two_gpus)!r}) / f"gpu{{i}}.lock", "a") for i in (0, 1)]
        for h in handles:
            try:
                fcntl.flock(h, fcntl.LOCK_EX | fcntl.LOCK_NB)
                print("free")
            except BlockingIOError:
                print("held")
    """)
    held = subprocess.run([sys.executable, "-c", job], capture_output=True, text=True, check=True).stdout
    assert held == "held\nheld\n"


def test_a_gpu_is_free_again_when_its_job_exits(two_gpus):
    job = textwrap.dedent(f"""
        from pathlib import Path
        from taxfree.core.gpus import claim_gpus
        print(claim_gpus([0, 1], count=2, lock_dir=Path({str(two_gpus)!r}), poll_s=0.05))
    """)
    assert subprocess.run([sys.executable, "-c", job], capture_output=True, text=True, check=True).stdout == "[0, 1]\n"
    assert gpus.claim_gpus([0, 1], count=2) == [0, 1]


def test_scheduler_choice_is_kept(two_gpus, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "7")
    log = io.StringIO()
    gpus.pin_and_log_gpus(log)
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "7"
    assert log.getvalue().endswith("CUDA_VISIBLE_DEVICES=7\n")
    assert not two_gpus.exists()


def test_nothing_to_log_without_gpus(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    log = io.StringIO()
    gpus.pin_and_log_gpus(log)
    assert log.getvalue() == ""


def test_lock_dir_is_per_user_and_closed_to_others(tmp_path):
    assert gpus.LOCK_DIR.name == f"taxfree-gpu-locks-{os.getuid()}"
    lock_dir = tmp_path / "locks"
    gpus.claim_gpus([0], lock_dir=lock_dir)
    assert (lock_dir.stat().st_mode & 0o777, lock_dir.stat().st_uid) == (0o700, os.geteuid())


def test_a_planted_link_is_not_followed(tmp_path):
    """Someone who could write the lock dir plants gpu0.lock -> a file a root job would then create."""
    lock_dir = tmp_path / "locks"
    lock_dir.mkdir(mode=0o700)
    victim = tmp_path / "victim"
    (lock_dir / "gpu0.lock").symlink_to(victim)
    with pytest.raises(OSError):
        gpus.claim_gpus([0], lock_dir=lock_dir)
    assert not victim.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to hand the directory to another user")
@pytest.mark.parametrize(("owner", "mode"), [(65534, 0o700), (0, 0o777)])
def test_a_lock_dir_someone_else_controls_is_refused(tmp_path, owner, mode):
    lock_dir = tmp_path / "locks"
    lock_dir.mkdir()
    lock_dir.chmod(mode)
    os.chown(lock_dir, owner, owner)
    with pytest.raises(PermissionError, match="must be owned by uid 0"):
        gpus.claim_gpus([0], lock_dir=lock_dir)
    assert list(lock_dir.iterdir()) == []
