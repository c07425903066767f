"""DVC audit of a real run: repro, push to a local remote, fresh clone + pull, and metrics diff."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REDUCED, REPO

pytestmark = pytest.mark.integration

# The tools the dvc.yaml command and the test call, from this interpreter's environment.
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def sh(cwd, *args):
    return subprocess.run(args, cwd=cwd, env=ENV, capture_output=True, text=True, check=True).stdout


def dvc_json(cwd, *args):
    return json.loads(sh(cwd, sys.executable, "-m", "dvc", *args, "--json"))


def commit(cwd, message):
    sh(cwd, "git", "add", "-A")
    sh(cwd, "git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A git copy of this repository whose config.yaml is the reduced toy, run with `dvc repro` and pushed."""
    root = tmp_path_factory.mktemp("dvc")
    work, remote = root / "work", root / "remote"
    files = sh(REPO, "git", "ls-files", "--cached", "--others", "--exclude-standard", "-z").split("\0")
    for name in filter(None, files):
        if (REPO / name).is_file():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, work / name)
    (work / "config.yaml").write_text(yaml.safe_dump(REDUCED))
    sh(work, "git", "init", "-q")
    sh(work, sys.executable, "-m", "dvc", "remote", "add", "-d", "store", str(remote))
    commit(work, "reduced toy")
    sh(work, sys.executable, "-m", "dvc", "repro")
    commit(work, "run")
    sh(work, sys.executable, "-m", "dvc", "push")
    return work


def test_status_is_clean_after_repro(project):
    assert dvc_json(project, "status") == {}


def test_plots_show_renders_the_tradeoff_points(project):
    shown = sh(project, sys.executable, "-m", "dvc", "plots", "show", "--json")
    assert "results/figures/tradeoff.csv" in shown
    assert '"safety"' in shown and '"reasoning"' in shown and '"lora_r1_up"' in shown


def test_fresh_clone_pulls_and_has_nothing_to_do(project, tmp_path):
    clone = tmp_path / "clone"
    sh(tmp_path, "git", "clone", "-q", str(project), str(clone))
    sh(clone, sys.executable, "-m", "dvc", "pull")
    assert (clone / "results" / "seed0" / "toy" / "full" / "model" / "config.json").is_file()
    sh(clone, "taxfree", "restore-times")
    assert "Nothing to be done" in sh(clone, sys.executable, "-m", "snakemake", "-n", "--cores", "1")
    assert dvc_json(clone, "metrics", "show") == dvc_json(project, "metrics", "show")


def test_metrics_diff_moves_only_the_changed_variant(project):
    config = yaml.safe_load((project / "config.yaml").read_text())
    config["variants"]["lora_r1_up"]["training"] = {"learning_rate": 1.0e-1}
    (project / "config.yaml").write_text(yaml.safe_dump(config))
    sh(project, sys.executable, "-m", "dvc", "repro")
    changed = dvc_json(project, "metrics", "diff", "HEAD")["results/metrics.json"]
    assert changed, "the changed learning rate moved no metric"
    assert {key.split(".")[1] for key in changed} == {"lora_r1_up"}
