"""Where results come from: fingerprints of the library's source (so editing a module reruns the rules
that use it), of variant specs, and of the environment a model was trained or evaluated in."""

from __future__ import annotations

import ast
import datetime
import functools
import hashlib
import json
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGE_DIR = Path(__file__).resolve().parents[1]


def module_path(module: str) -> Path | None:
    """The source file of a ``taxfree`` module (a package's ``__init__.py``); None for anything else."""
    parts = module.split(".")
    if parts[0] != "taxfree":
        return None
    base = PACKAGE_DIR.joinpath(*parts[1:])
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


@functools.cache
def imports_of(module: str, path: Path) -> frozenset[str]:
    """The ``taxfree`` modules one file's import statements name, at any depth (function-level too)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = node.module or ""
            if node.level:
                source = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + [source]).rstrip(".")
            found.add(source)
            found.update(f"{source}.{alias.name}" for alias in node.names)  # submodules imported by name
    return frozenset(name for name in found if module_path(name) is not None)


def _loaded_with(module: str, path: Path) -> set[str]:
    """What importing one module runs: the modules it imports and their parent packages."""
    found = set(imports_of(module, path))
    found.update(".".join(name.split(".")[:i]) for name in list(found) for i in range(2, name.count(".") + 1))
    return {name for name in found if module_path(name) is not None}


def import_closure(*modules: str) -> list[str]:
    """The named ``taxfree`` modules and every ``taxfree`` module they import, transitively, sorted."""
    seen: set[str] = set()
    todo = list(modules)
    while todo:
        module = todo.pop()
        path = module_path(module)
        if module in seen or path is None:
            if path is None and module not in seen:
                raise ValueError(f"code_hash: no taxfree module '{module}'")
            continue
        seen.add(module)
        todo.extend(_loaded_with(module, path) - seen)
    return sorted(seen)


def script_imports(path: str | Path) -> list[str]:
    """The ``taxfree`` modules a workflow script imports (its library code)."""
    return sorted(_loaded_with("", Path(path)))


def code_hash(*modules: str) -> str:
    """SHA-256 (first 16 hex digits) over the source of the named modules' import closure: a rule whose
    params hold it reruns exactly when code it runs changes, with no list of modules kept by hand."""
    digest = hashlib.sha256()
    for module in import_closure(*modules):
        digest.update(module.encode() + b"\0" + module_path(module).read_bytes())
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
    import torch  # heavy: the workflow imports this module at every start

    gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return {"machine": platform.machine(), "cpu": _cpu_model(), "cpus": os.cpu_count(),
            "gpus": gpus, "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "torch_cpu_capability": torch.backends.cpu.get_cpu_capability()}


def environment() -> dict[str, Any]:
    """Where and with what a result was made: commit, Python, package versions, hardware, host, time."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {"git_commit": git_commit(), "python": platform.python_version(), "packages": versions,
            "hardware": hardware(), "host": platform.node(),
            "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
