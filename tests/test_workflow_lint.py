"""The workflow's own hygiene: snakefmt formatting, `snakemake --lint`, conda envs that match pyproject."""

import re
import subprocess
import sys
import tomllib

import yaml
from conftest import REPO

# Requirements an environment may add to pyproject's dependencies.
ENV_ONLY = {"vllm"}


def test_snakefiles_are_formatted():
    checked = subprocess.run([sys.executable, "-m", "snakefmt", "--check", "Snakefile", "rules"], cwd=REPO,
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_lint_is_clean():
    linted = subprocess.run([sys.executable, "-m", "snakemake", "--lint"], cwd=REPO, capture_output=True, text=True)
    assert linted.returncode == 0, linted.stderr
    assert "Lints for" not in linted.stdout + linted.stderr, linted.stdout + linted.stderr


def requirement_name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0].lower()


def test_envs_pin_what_pyproject_pins():
    pinned = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    by_name = {requirement_name(requirement): requirement for requirement in pinned}
    envs = sorted((REPO / "envs").glob("*.yaml"))
    assert [env.stem for env in envs] == ["evaluation", "plotting", "training"]
    for env in envs:
        pip = next(dep["pip"] for dep in yaml.safe_load(env.read_text())["dependencies"] if isinstance(dep, dict))
        for requirement in pip:
            name = requirement_name(requirement)
            assert name in ENV_ONLY or by_name.get(name) == requirement, f"{env.name}: {requirement}"
