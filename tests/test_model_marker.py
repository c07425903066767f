"""A model directory is complete only with its COMPLETE marker: one without it (a job killed half-way, an
orphaned trainer's half-deleted output) is rebuilt, not used."""

import subprocess
import sys

from conftest import REDUCED, REPO, make_workdir

from taxfree.config.paths import Paths, complete_marker
from taxfree.core.io import mark_complete


def planned_jobs(workdir, target):
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--snakefile", str(REPO / "Snakefile"),
                           "--directory", str(workdir), "--rerun-triggers", "mtime", "--", target],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_a_model_dir_without_its_marker_is_rebuilt_and_one_with_it_is_used(tmp_path):
    workdir = make_workdir(tmp_path / "w", REDUCED)
    paths = Paths(str(workdir / "results"), seed=0)
    # Everything the toy's pretraining reads exists.
    for split in ("pretrain", "refusal", "reasoning_eval", "toy_reasoning", "toy_harmful", "toy_benign"):
        path = workdir / paths.toyworld_split(split)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}\n")
    init = workdir / paths.toyworld_init_model()
    init.mkdir(parents=True)
    (init / "config.json").write_text("{}")
    # A base model with weights but no marker: as left by a job killed before it finished.
    base = workdir / paths.base_model("toy")
    base.mkdir(parents=True)
    (base / "model.safetensors").write_text("half")
    target = complete_marker(paths.base_model("toy"))
    assert "pretrain_toy" in planned_jobs(workdir, target.removeprefix(f"{workdir}/"))

    mark_complete(base, "0123")
    assert (base / "COMPLETE").read_text() == "0123\n"
    assert "Nothing to be done" in planned_jobs(workdir, target.removeprefix(f"{workdir}/"))
