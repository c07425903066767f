"""configs/smoke.yaml end to end on a CPU: the paper grid's structure on tiny random Qwen2 and Llama models."""

import json
import subprocess
import sys
import time

import pandas as pd
import pytest
import yaml
from conftest import REPO

SMOKE = REPO / "configs" / "smoke.yaml"


def snakemake(workdir, *args):
    return subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
                           "--directory", str(workdir), "--configfile", str(SMOKE), *args],
                          capture_output=True, text=True, check=True)


def workdir(path):
    """A working directory where the config's tests/data/smoke/ paths resolve."""
    (path / "tests").mkdir()
    (path / "tests" / "data").symlink_to(REPO / "tests" / "data")
    return path


def test_dry_run_takes_seconds(tmp_path):
    workdir(tmp_path)
    started = time.monotonic()
    result = snakemake(tmp_path, "-n")
    assert time.monotonic() - started < 30
    assert "build_tiny_model" in result.stdout and "fetch_model" not in result.stdout


@pytest.mark.integration
def test_smoke_grid_runs_and_summarises_every_model_benchmark_and_variant_kind(tmp_path):
    workdir(tmp_path)
    started = time.monotonic()
    snakemake(tmp_path, "--cores", "2")
    print(f"smoke grid: {time.monotonic() - started:.0f} s")
    config = yaml.safe_load(SMOKE.read_text())
    results = tmp_path / config["results_dir"]
    summary = pd.read_csv(results / "summary.csv")
    assert set(summary["model"]) == {"tiny_qwen", "tiny_llama"}
    assert set(summary["benchmark"]) == set(config["benchmarks"])
    assert set(summary["variant"]) == set(config["variants"])
    assert {"none", "full", "lora", "merge"} <= set(summary["method"])
    assert summary["regularizer.beta"].notna().any() and summary["merge.kind"].eq("projected").any()
    assert summary.loc[summary["variant"] == "lora_up_from1_to1_r1", "lora.layers"].iloc[0] == '{"from": 1, "to": 1}'
    headline = summary.set_index(["model", "variant", "benchmark", "metric"])["value"]
    assert {m for (_, _, b, m) in headline.index if b == "math_like"} >= {"accuracy", "pass@2"}
    assert {m for (_, _, b, m) in headline.index if b == "humaneval_like"} >= {"pass_rate"}
    # The tiny judge's replies do not parse: NaN with every row counted invalid, null in metrics.json.
    guard = summary[(summary["benchmark"] == "strongreject_like") & (summary["metric"] == "safety")]
    assert len(guard) == 2 * len(config["variants"])
    assert (guard["invalid"] > 0).all()
    assert (guard["value"].isna() == (guard["n"] == 0)).all()
    metrics = json.loads((results / "metrics.json").read_text())
    assert set(metrics) == {"tiny_qwen", "tiny_llama"}
    for model, architecture in (("tiny_qwen", "Qwen2ForCausalLM"), ("tiny_llama", "LlamaForCausalLM")):
        model_config = json.loads((results / "seed0" / model / "base_model" / "config.json").read_text())
        assert model_config["architectures"] == [architecture]
