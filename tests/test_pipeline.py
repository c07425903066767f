"""The whole pipeline on a reduced toy config: structure, determinism and exact reruns."""

import re
import subprocess
import sys

import pandas as pd
import pytest
import yaml
from conftest import REDUCED, REPO, make_workdir

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
    for figure in ("tradeoff", "ablation_method"):
        assert (run / "results" / "figures" / f"{figure}.png").stat().st_size > 10_000
        assert (run / "results" / "figures" / f"{figure}.pdf").read_bytes()[:4] == b"%PDF"
    parquet = pd.read_parquet(run / "results" / "summary.parquet")
    assert list(parquet.columns) == list(summary.columns)
    core = ["model", "variant", "benchmark", "metric", "value", "ci_low", "ci_high", "n", "spec_hash"]
    pd.testing.assert_frame_equal(parquet[core], summary[core], check_dtype=False, rtol=1e-5)
    assert set(summary.loc[summary["variant"] == "lora_r1_up", "lora.rank"]) == {1}
    assert "lora_r1_up" in (run / "results" / "summary.md").read_text()
    claims = pd.read_csv(run / "results" / "claims.csv")
    assert claims[["paper", "model", "comparison", "seeds"]].values.tolist() == [
        ["LoRA-safety", "toy", "lora_r1_up - full > 0", 1]]
    reasoning = summary[(summary["benchmark"] == "toy_reasoning") & (summary["metric"] == "accuracy")]
    difference = reasoning.set_index("variant")["value"]
    assert claims.loc[0, "value"] == pytest.approx(difference["lora_r1_up"] - difference["full"])
    assert claims.loc[0, "holds"] == (claims.loc[0, "value"] > 0) and pd.isna(claims.loc[0, "ci_low"])
    assert "Claims" in (run / "results" / "summary.md").read_text()
    assert (run / "results" / "seed0" / "toy" / "lora_r1_up" / "model" / "adapter_config.json").is_file()
    assert "train_loss" in (run / "logs" / "align" / "seed0" / "toy" / "full.log").read_text()
    tokens = pd.read_csv(run / "results" / "reasoning_tokens.csv")
    assert len(tokens) == 3 * 3 and {"mean", "p25", "p50", "p75"} <= set(tokens.columns)
    means = summary[summary["metric"] == "reasoning_tokens"].set_index(["variant", "benchmark"])["value"]
    assert tokens.set_index(["variant", "benchmark"])["mean"].to_dict() == pytest.approx(means.to_dict())


def test_geometry_outputs(run):
    lora = pd.read_parquet(run / "results" / "seed0" / "toy" / "lora_r1_up" / "geometry.parquet")
    full = pd.read_parquet(run / "results" / "seed0" / "toy" / "full" / "geometry.parquet")
    assert set(lora["module"]) == {"up_proj"} and len(set(full["module"])) == 7
    assert (lora["stable_rank"] < 1 + 1e-4).all() and (full["stable_rank"] > 1).all()
    assert {"layer", "k", "fro_norm", "spectral_norm", "overlap_left", "overlap_right", "overlap_both"} <= set(full)
    for figure in ("stable_rank", "overlap"):
        assert (run / "results" / "figures" / f"{figure}.png").stat().st_size > 10_000


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


def test_provenance_names_commit_packages_and_seed(run):
    import json

    provenance = json.loads((run / "results" / "provenance.json").read_text())
    assert provenance["aggregated"]["packages"]["torch"].startswith("2.13.0")
    full = provenance["seeds"]["0"]["toy"]["full"]
    assert full["seed"] == 42 and len(full["spec_hash"]) == 16
    assert full["trained"]["spec_hash"] == full["spec_hash"]
    assert full["trained"]["hardware"]["cpus"] >= 1
    # `base` is the pretrained toy itself: no alignment seed, but the pretraining's record.
    base = provenance["seeds"]["0"]["toy"]["base"]
    assert base["seed"] is None and base["trained"]["spec_hash"] != full["spec_hash"]


def test_report_holds_figures_and_captions(run):
    snakemake(run, "--report", "report.html")
    html = (run / "report.html").read_text()
    for text in ("ablation_method.png", "tradeoff.png", "Same data, same learning rate.", "Pareto front"):
        assert text in html


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
    assert rules == {"align", "generate", "score", "aggregate", "claims", "figure_tradeoff", "figure_ablation",
                     "geometry", "figure_geometry", "reasoning_tokens", "all"}
    assert all("variant=lora_r1_up" in wildcards for rule, wildcards in jobs
               if rule in ("align", "generate", "score", "geometry"))
    assert sum(rule == "generate" for rule, _ in jobs) == 1  # one job answers the 3 benchmarks


def test_same_seed_same_summary_and_a_second_seed_beside_it(run, tmp_path):
    second = make_workdir(tmp_path / "b", {**REDUCED, "seeds": [0, 1]})
    snakemake(second)
    first = pd.read_csv(run / "results" / "summary.csv")
    both = pd.read_csv(second / "results" / "summary.csv")
    assert set(both["seed"]) == {0, 1}
    # Seed 0's rows are those of the one-seed run, to the byte: another seed changes nothing of it.
    pd.testing.assert_frame_equal(both[both["seed"] == 0].reset_index(drop=True), first)
    key = ["variant", "benchmark", "metric"]
    one = both[both["seed"] == 1].set_index(key)["value"]
    assert not one.equals(first.set_index(key)["value"])  # a new toy world, model and samples
    spread = pd.read_csv(second / "results" / "summary_seeds.csv")
    assert (spread["seeds"] == 2).all() and spread["std"].notna().all()
    claims = pd.read_csv(second / "results" / "claims.csv")
    assert claims.loc[0, "seeds"] == 2 and claims.loc[0, "ci_low"] <= claims.loc[0, "value"] <= claims.loc[0, "ci_high"]
