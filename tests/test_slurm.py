"""The toy pipeline through `--profile slurm` on a real single-node SLURM with a fake GPU.

The test starts munged, slurmctld and slurmd itself (configured in a temp dir from this
machine's hostname, CPUs and memory) and stops them afterwards. It needs the Debian
packages slurm-wlm and munge, which tests/setup_system.sh (part of the README's test command)
installs, and root.
"""

import copy
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REDUCED, REPO, make_workdir

pytestmark = pytest.mark.slurm

FAKE_GPUS = 2
# srun inside a job finds the config only here: the plugin's job step drops SLURM_CONF.
SYSTEM_CONF = Path("/etc/slurm/slurm.conf")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_config(root) -> None:
    """slurm.conf and gres.conf for this machine as one node with FAKE_GPUS GPUs."""
    node = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout.splitlines()[0]
    host = node.split()[0].removeprefix("NodeName=")
    for name in ("state", "spool"):
        (root / name).mkdir()
    # slurmd accepts only device nodes as GPU files; nothing ever opens them.
    for index in range(FAKE_GPUS):
        os.mknod(root / f"fakegpu{index}", stat.S_IFCHR | 0o600, os.makedev(195, index))
    (root / "gres.conf").write_text(f"Name=gpu File={root}/fakegpu[0-{FAKE_GPUS - 1}]\n")
    (root / "slurm.conf").write_text(f"""\
ClusterName=taxfree-test
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={root}/munge.sock
CredType=cred/munge
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
GresTypes=gpu
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
# Finished jobs stay visible to squeue/scontrol for the whole test.
MinJobAge=3600
{node} NodeAddr=127.0.0.1 Gres=gpu:{FAKE_GPUS} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
""")


@pytest.fixture(scope="module")
def slurm_env(tmp_path_factory):
    """Environment whose sbatch/squeue talk to a private single-node SLURM."""
    root = tmp_path_factory.mktemp("slurm")
    if SYSTEM_CONF.is_symlink() and not SYSTEM_CONF.exists():
        SYSTEM_CONF.unlink()  # left by a run of this test that was killed
    if SYSTEM_CONF.exists():
        raise RuntimeError(f"{SYSTEM_CONF} exists: this test starts its own SLURM and will not replace a real one")
    write_config(root)
    SYSTEM_CONF.parent.mkdir(parents=True, exist_ok=True)
    SYSTEM_CONF.symlink_to(root / "slurm.conf")
    env = {**os.environ, "SLURM_CONF": str(root / "slurm.conf")}
    subprocess.run(["mungekey", "--create", "--keyfile", str(root / "munge.key")], check=True)
    daemons = [
        subprocess.Popen(["munged", "--foreground", "--force", f"--socket={root}/munge.sock",
                          f"--key-file={root}/munge.key", f"--pid-file={root}/munged.pid",
                          f"--log-file={root}/munged.log", f"--seed-file={root}/munged.seed"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    ]
    try:
        wait_for(lambda: (root / "munge.sock").exists(), "munged socket", root, daemons)
        for daemon in ("slurmctld", "slurmd"):
            daemons.append(subprocess.Popen([daemon, "-D", "-f", env["SLURM_CONF"]], env=env,
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_for(lambda: node_state(env) == "idle", "an idle SLURM node", root, daemons)
        yield env
    finally:
        SYSTEM_CONF.unlink()
        for daemon in reversed(daemons):
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(timeout=20)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()


def node_state(env) -> str:
    shown = subprocess.run(["sinfo", "--noheader", "--format=%T"], env=env, capture_output=True, text=True)
    return shown.stdout.strip()


def wait_for(ready, what, root, daemons, timeout_s=60):
    """Fails, with the daemons' logs, when a daemon exits or `ready` stays false for timeout_s."""
    deadline = time.monotonic() + timeout_s
    while not ready():
        if time.monotonic() > deadline or any(daemon.poll() is not None for daemon in daemons):
            logs = "\n".join(f"--- {log.name}\n{log.read_text()[-2000:]}" for log in root.glob("*.log"))
            raise RuntimeError(f"SLURM test cluster: no {what}\n{logs}")
        time.sleep(0.5)


def slurm_jobs(env) -> list[dict[str, str]]:
    """Every job slurmctld remembers, as `scontrol show job --oneliner` fields."""
    shown = subprocess.run(["scontrol", "show", "job", "--oneliner"], env=env, capture_output=True,
                           text=True, check=True).stdout
    return [dict(re.findall(r"(\w+)=(\S*)", line)) for line in shown.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def run(slurm_env, tmp_path_factory):
    # Fewer jobs than the local pipeline test: one trained variant and the two benchmarks the
    # figure needs. With a GPU size set, training, its analysis and generation ask for a GPU
    # (the toy's size is given, as its model does not exist before the run).
    config = copy.deepcopy(REDUCED)
    config["variants"] = {name: REDUCED["variants"][name] for name in ("base", "full")}
    config["benchmarks"] = {name: REDUCED["benchmarks"][name] for name in ("toy_reasoning", "toy_harmful")}
    config["figures"]["ablations"] = {}
    config["claims"] = []
    config["resources"]["gpu_memory_gb"] = 80
    config["models"]["toy"]["params_b"] = 0.003
    config["toyworld"].update(n_reasoning_train=64, n_reasoning_eval=8, n_eval_per_split=8)
    for benchmark in config["benchmarks"].values():
        benchmark["max_new_tokens"] = 8
    workdir = make_workdir(tmp_path_factory.mktemp("slurm-run") / "a", config)
    # The README's command, from the repository root, with three test-only settings: job
    # states from squeue (there is no accounting database for sacct), a first status check
    # after 2 s, and memory for the align job that this node has (replacing the
    # profile's set-resources; the rest take the profile's default-resources).
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--profile", "slurm", "--directory", str(workdir),
         "--configfile", str(workdir / "config.yaml"), "--slurm-status-command", "squeue",
         "--slurm-init-seconds-before-status-checks", "2", "--set-resources", "align:mem_mb=2000", "--retries", "0"],
        cwd=REPO, env=slurm_env, capture_output=True, text=True)
    print(f"pipeline through SLURM: {time.monotonic() - started:.0f} s")
    assert result.returncode == 0, result.stderr[-5000:]
    return workdir, result.stderr, slurm_jobs(slurm_env)


def test_every_cluster_job_went_through_slurm(run):
    workdir, log, jobs = run
    submitted = re.findall(r"has been submitted with SLURM jobid (\d+)", log)
    rules = [job["Comment"].removeprefix("rule_").split("_wildcards_")[0] for job in jobs]
    assert sorted(submitted) == sorted(job["JobId"] for job in jobs)
    assert {job["JobState"] for job in jobs} == {"COMPLETED"}
    # prepare_dataset and prepare_benchmark read the hub, so they run on the login node.
    # One generate job per (model, variant): base and full; each scored on the two benchmarks.
    assert sorted(rules) == sorted(["toyworld", "pretrain_toy", "align", "geometry"]
                                   + ["generate"] * 2 + ["score"] * 4)
    assert (workdir / "results" / "summary.csv").is_file()
    assert (workdir / "results" / "figures" / "tradeoff.png").is_file()


def test_gpu_rule_asked_for_a_gpu_and_logged_it(run):
    workdir, _, jobs = run
    gpu_requests = {job["Comment"].split("_wildcards_")[0]: job.get("TresPerJob", "") for job in jobs}
    # Training asks for its GPU, and so do the analysis of its update (exact spectral norms) and generation;
    # the toy's grader and regex judge run on CPUs.
    gpu_rules = {"rule_align", "rule_geometry", "rule_generate"}
    assert {gpu_requests[rule] for rule in gpu_rules} == {"gres:gpu:1"}
    assert all(request == "" for rule, request in gpu_requests.items() if rule not in gpu_rules)
    # SLURM picks which of the fake GPUs a job gets (another GPU job may hold the first).
    assert re.search(rf"^CUDA_VISIBLE_DEVICES=[0-{FAKE_GPUS - 1}]$",
                     (workdir / "logs" / "align" / "seed0" / "toy" / "full.log").read_text(), flags=re.M)
