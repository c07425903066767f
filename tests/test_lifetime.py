"""Job processes die with their parent, so a killed Snakemake leaves no trainer running as an orphan."""

import os
import signal
import subprocess
import sys
import time

import pytest

# The parent starts the child and then waits; the child writes its pid and would sleep for a minute.
PARENT = """
import subprocess, sys, time
subprocess.Popen(sys.argv[1:])
time.sleep(60)
"""
CHILD = "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(60)"


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (dead, not yet reaped by init) counts as gone.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(")")[-1].split()[0] != "Z"


def orphan_survives(tmp_path, child):
    pid_file = tmp_path / "child.pid"
    pid_file.unlink(missing_ok=True)
    parent = subprocess.Popen([sys.executable, "-c", PARENT, *child, str(pid_file)])
    deadline = time.monotonic() + 30
    while not (pid_file.is_file() and pid_file.read_text()):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    pid = int(pid_file.read_text())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    survived = alive(pid)
    if survived:
        os.kill(pid, signal.SIGKILL)
    return survived


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_job_started_through_the_lifetime_wrapper_dies_with_its_parent(tmp_path):
    assert not orphan_survives(tmp_path, [sys.executable, "-m", "taxfree.core.lifetime", sys.executable, "-c", CHILD])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_process_that_asks_dies_with_its_parent_and_one_that_does_not_survives(tmp_path):
    asks = "from taxfree.core.lifetime import die_with_parent; die_with_parent(); " + CHILD
    assert not orphan_survives(tmp_path, [sys.executable, "-c", asks])
    assert orphan_survives(tmp_path, [sys.executable, "-c", CHILD])  # what main's trainer did


def test_the_trainer_and_every_rank_ask_to_die_with_their_parent(monkeypatch):
    import taxfree.training.__main__ as entry

    calls = []
    monkeypatch.setattr(entry, "die_with_parent", lambda: calls.append("asked"))
    monkeypatch.setattr(entry, "train", lambda *args: calls.append("trained"))
    monkeypatch.setattr(entry, "pin_and_log_gpus", lambda: None)
    entry.main(["--base", "b", "--data", "d", "--spec", "{}", "--out", "o", "--checkpoint-dir", "c"])
    assert calls == ["asked", "trained"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_job_shell_must_exec_the_trainer_or_it_outlives_snakemake(tmp_path):
    # As Snakemake runs the train rule's command: with the log redirection bash forks instead of exec-ing,
    # and the forked shell, not Snakemake, becomes the trainer's parent (hence `exec` in TRAIN_CMD).
    job = f"{sys.executable} -m taxfree.core.lifetime {sys.executable} -c \"{CHILD}\" {{}} > {tmp_path}/log 2>&1"
    shell = ["bash", "-c"]
    assert not orphan_survives(tmp_path, [*shell, "set -euo pipefail; exec " + job.format(tmp_path / "child.pid"),
                                          "--"])
    assert orphan_survives(tmp_path, [*shell, "set -euo pipefail; " + job.format(tmp_path / "child.pid"), "--"])
