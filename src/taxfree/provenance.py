"""Where results come from: fingerprints of the library's source (so editing a module reruns the rules
that use it), of variant specs, and of the environment a model was trained or evaluated in."""

from __future__ import annotations

import datetime
import functools
import hashlib
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

PACKAGE_DIR = Path(__file__).resolve().parent


def source_hash(*modules: str) -> str:
    """SHA-256 (first 16 hex digits) over the named modules' source files, e.g. ``"train", "data"``."""
    digest = hashlib.sha256()
    for module in sorted(set(modules)):
        path = PACKAGE_DIR / f"{module.replace('.', '/')}.py"
        digest.update(module.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


PACKAGES = ("torch", "transformers", "peft", "trl", "datasets", "accelerate", "snakemake", "dvc", "vllm",
            "math-verify", "taxfree")


def spec_hash(spec: dict[str, Any]) -> str:
    """SHA-256 (first 16 hex digits) of a resolved variant spec: equal hashes, equal settings."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def git_commit(repo: str | Path = PACKAGE_DIR) -> str | None:
    """The checkout's commit, with ``-dirty`` when tracked files differ from it; None outside git."""
    run = functools.partial(subprocess.run, cwd=repo, capture_output=True, text=True)
    head = run(["git", "rev-parse", "HEAD"])
    if head.returncode != 0:
        return None
    dirty = run(["git", "status", "--porcelain", "--untracked-files=no"]).stdout.strip()
    return head.stdout.strip() + ("-dirty" if dirty else "")


def _cpu_model() -> str:
    """The CPU's marketing name where Linux tells it (platform.processor() is often empty there)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def hardware() -> dict[str, Any]:
    import torch

    gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return {"machine": platform.machine(), "cpu": _cpu_model(), "cpus": os.cpu_count(),
            "gpus": gpus, "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "torch_cpu_capability": torch.backends.cpu.get_cpu_capability()}


def environment() -> dict[str, Any]:
    """Where and with what a result was made: commit, Python, package versions, hardware, host, time."""
    from importlib import metadata

    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {"git_commit": git_commit(), "python": platform.python_version(), "packages": versions,
            "hardware": hardware(), "host": platform.node(),
            "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
