"""The whole pipeline on a reduced toy config: structure, determinism and exact reruns."""

import re
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from conftest import REPO

REDUCED = {
    "toyworld": {
        "seed": 0, "n_reasoning_train": 300, "n_reasoning_eval": 16, "n_eval_per_split": 16, "n_refusal_train": 32,
        "architecture": {"hidden_size": 32, "num_layers": 2, "intermediate_size": 64, "num_heads": 2},
        "pretrain": {"learning_rate": 3.0e-3, "num_train_epochs": 1, "per_device_train_batch_size": 16,
                     "max_length": 128, "logging_steps": 5},
    },
    "models": {"toy": {"source": "toyworld"}},
    "datasets": {"toy_refusal": {"path": "results/toyworld/data/refusal.jsonl"}},
    "training": {"learning_rate": 2.0e-3, "num_train_epochs": 1, "per_device_train_batch_size": 8,
                 "max_length": 128, "logging_steps": 2},
    "lora": {"alpha": 16, "dropout": 0.05},
    "variants": {
        "base": {"method": "none"},
        "lora_r1_up": {"method": "lora", "dataset": "toy_refusal", "lora": {"rank": 1, "target_modules": ["up_proj"]}},
        "full": {"method": "full", "dataset": "toy_refusal"},
    },
    "benchmarks": {
        name: {"path": f"results/toyworld/data/{name}.jsonl", "category": category, **scorer,
               "max_new_tokens": 24, "batch_size": 8}
        for name, category, scorer in [("toy_reasoning", "reasoning", {"grader": "toy"}),
                                       ("toy_harmful", "safety", {"judge": "refusal"}),
                                       ("toy_benign", "overrefusal", {"judge": "refusal"})]
    },
    "figures": {"tradeoff": {"x": "toy_harmful", "y": "toy_reasoning"}},
    "resources": {"train_threads": 1, "generate_threads": 1},
}

pytestmark = pytest.mark.integration


def snakemake(workdir, *args):
    return subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
                           "--directory", str(workdir), "--cores", "2", *args],
                          capture_output=True, text=True, check=True)


def planned_jobs(workdir):
    """(rule, wildcards) of every job a dry run would execute."""
    jobs = []
    for line in snakemake(workdir, "-n").stdout.splitlines():
        if match := re.match(r"(?:local)?rule (\w+):$", line):
            jobs.append([match.group(1), ""])
        elif line.startswith("    wildcards: ") and jobs:
            jobs[-1][1] = line.split(": ", 1)[1]
    return [tuple(job) for job in jobs]


def make_workdir(path, config):
    path.mkdir()
    (path / "config.yaml").write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    workdir = make_workdir(tmp_path_factory.mktemp("pipeline") / "a", REDUCED)
    snakemake(workdir)
    return workdir


def test_outputs(run):
    summary = pd.read_csv(run / "results" / "summary.csv")
    assert {"model", "variant", "benchmark", "metric", "value"} <= set(summary.columns)
    headline = summary[~summary["metric"].isin(["response_tokens", "reasoning_tokens"])]
    assert len(headline) == 3 * 3
    assert not headline.duplicated(["model", "variant", "benchmark", "metric"]).any()
    assert set(headline["metric"]) == {"accuracy", "refusal_rate"}
    assert headline["value"].between(0, 1).all()
    assert set(headline["n"]) == {16}
    assert (run / "results" / "figures" / "tradeoff.png").stat().st_size > 10_000
    assert "lora_r1_up" in (run / "results" / "summary.md").read_text()
    assert (run / "results" / "toy" / "lora_r1_up" / "model" / "adapter_config.json").is_file()
    assert "train_loss" in (run / "logs" / "align" / "toy" / "full.log").read_text()
    tokens = pd.read_csv(run / "results" / "reasoning_tokens.csv")
    assert len(tokens) == 3 * 3 and {"mean", "p25", "p50", "p75"} <= set(tokens.columns)
    means = summary[summary["metric"] == "reasoning_tokens"].set_index(["variant", "benchmark"])["value"]
    assert tokens.set_index(["variant", "benchmark"])["mean"].to_dict() == pytest.approx(means.to_dict())


def test_dvc_metrics_show_lists_every_metric(run):
    import json
    import shutil

    shutil.copy(REPO / "dvc.yaml", run / "dvc.yaml")
    dvc = [sys.executable, "-m", "dvc"]
    subprocess.run([*dvc, "init", "--no-scm", "-q"], cwd=run, check=True)
    shown = json.loads(subprocess.run([*dvc, "metrics", "show", "--json"], cwd=run, check=True,
                                      capture_output=True, text=True).stdout)
    metrics = shown[""]["data"]["results/metrics.json"]["data"]
    summary = pd.read_csv(run / "results" / "summary.csv")
    assert len(summary) == 3 * 3 * 3
    for row in summary.itertuples():
        assert metrics[row.model][row.variant][row.benchmark][row.metric] == pytest.approx(row.value, abs=1e-6)


def test_second_run_has_nothing_to_do(run):
    assert planned_jobs(run) == []


def test_parameter_change_reruns_only_that_variant(run, tmp_path):
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["variants"]["lora_r1_up"]["training"] = {"learning_rate": 1.0e-3}
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    try:
        jobs = planned_jobs(run)
    finally:
        (run / "config.yaml").write_text(yaml.safe_dump(REDUCED))
    rules = {rule for rule, _ in jobs}
    assert rules == {"align", "generate", "score", "aggregate", "figure_tradeoff", "reasoning_tokens", "all"}
    assert all("variant=lora_r1_up" in wildcards for rule, wildcards in jobs if wildcards)
    assert sum(rule == "generate" for rule, _ in jobs) == 3


def test_same_seed_same_summary(run, tmp_path):
    second = make_workdir(tmp_path / "b", REDUCED)
    snakemake(second)
    first = (run / "results" / "summary.csv").read_text()
    assert (second / "results" / "summary.csv").read_text() == first
