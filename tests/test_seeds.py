"""Run seeds as an axis: each seed's run sees its own seeds and paths; tables report the spread across seeds."""

import math
import re
import subprocess
import sys

import pandas as pd
import pytest
from conftest import REPO

from taxfree.config.paths import Paths
from taxfree.config.schema import validate_config
from taxfree.config.seeds import at_seed
from taxfree.core.errors import ConfigError
from taxfree.report.aggregate import to_markdown
from taxfree.report.seeds import across_seeds, t_interval


def minimal_config(**extra):
    return {"models": {"toy": {"source": "toyworld"}}, "variants": {"base": {"method": "none"}},
            "benchmarks": {"b": {"toyworld": "toy_harmful", "category": "safety", "judge": "refusal"}},
            "training": {}, "lora": {}, "figures": {"tradeoff": {"x": "b", "y": "b"}}, "resources": {}, **extra}


def test_every_seed_setting_shifts_by_the_run_seed_and_paths_get_the_seed():
    spec = {"training": {"seed": 42, "learning_rate": 1e-3}, "toyworld": {"seed": 0},
            "ssah": {"safety_path": Paths(seed="{seed}").dataset("d")}, "seeds_are_not_seed": [1, 2]}
    seen = at_seed(spec, 3)
    assert seen["training"] == {"seed": 45, "learning_rate": 1e-3} and seen["toyworld"]["seed"] == 3
    assert seen["ssah"]["safety_path"] == "results/seed3/datasets/d.jsonl"
    assert seen["seeds_are_not_seed"] == [1, 2]
    assert at_seed(spec, 0) == {**spec, "ssah": {"safety_path": "results/seed0/datasets/d.jsonl"}}


def test_hub_weights_are_shared_by_every_seed_and_the_rest_is_per_seed():
    config = {"results_dir": "out", "models": {"qwen": {"source": "hub"}, "toy": {"source": "toyworld"}}}
    one, two = Paths.of(config, 1), Paths.of(config, 2)
    assert one.base_model("qwen") == two.base_model("qwen") == "out/hub/qwen"
    assert one.base_model("toy") == "out/seed1/toy/base_model" != two.base_model("toy")
    assert one.scores("toy", "full", "b") == "out/seed1/toy/full/scores/b.jsonl"
    assert one.result("summary.csv") == two.result("summary.csv") == "out/summary.csv"


@pytest.mark.parametrize("given, seeds", [(["3", "4", " 5"], [3, 4, 5]), (7, [7]), ([0, -1], [0, -1])])
def test_seeds_from_the_command_line_become_integers(given, seeds):
    config = minimal_config(seeds=given)
    validate_config(config)
    assert config["seeds"] == seeds


@pytest.mark.parametrize("given, reason", [(["a"], "'a' is not of type 'integer'"), ([], "should be non-empty"),
                                           ([1, 1], "non-unique")])
def test_bad_seeds_name_the_key(given, reason):
    with pytest.raises(ConfigError, match=rf"config key 'seeds.*{reason}"):
        validate_config(minimal_config(seeds=given))


def test_the_default_is_one_seed_zero():
    config = minimal_config()
    validate_config(config)
    assert config["seeds"] == [0]


def test_t_interval_across_seeds():
    low, high = t_interval([0.2, 0.4, 0.6])
    # mean 0.4, sd 0.2, t(0.975, 2) = 4.3027
    assert (low, high) == pytest.approx((0.4 - 4.3027 * 0.2 / math.sqrt(3), 0.4 + 4.3027 * 0.2 / math.sqrt(3)),
                                        abs=1e-4)
    assert t_interval([1.0, 1.0, 1.0]) == (1.0, 1.0)
    assert all(math.isnan(x) for x in t_interval([0.5]))


def summary_of(values):
    return pd.DataFrame([{"model": "toy", "variant": v, "seed": s, "benchmark": "b", "category": "safety",
                          "metric": "refusal_rate", "value": x, "truncated": 1}
                         for v, per_seed in values.items() for s, x in enumerate(per_seed)])


def test_the_seed_table_gives_mean_sd_and_interval_per_measurement():
    table = across_seeds(summary_of({"full": [0.2, 0.4, 0.6], "base": [0.0, 0.0, 0.0]})).set_index("variant")
    assert table.loc["full", "mean"] == pytest.approx(0.4) and table.loc["full", "std"] == pytest.approx(0.2)
    assert table.loc["full", "ci_low"] == pytest.approx(0.4 - 4.3027 * 0.2 / math.sqrt(3), abs=1e-4)
    assert table.loc["base", ["mean", "std", "ci_low", "ci_high"]].tolist() == [0, 0, 0, 0]
    assert (table["seeds"] == 3).all()


def test_markdown_shows_the_spread_over_seeds_and_sums_truncated_rows():
    row = to_markdown(summary_of({"full": [0.2, 0.4, 0.6]})).splitlines()[2]
    assert [cell.strip() for cell in row.strip("|").split("|")] == ["toy", "full", "0.400 ± 0.200", "3"]


def dry_run(*args):
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-n", *args], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return dict(re.findall(r"^(\w+)\s+(\d+)$", proc.stdout, flags=re.M))


def test_each_seed_runs_the_whole_grid_and_hub_weights_are_fetched_once():
    one, three = dry_run(), dry_run("--config", "seeds=[0,1,2]")
    for rule in ("toyworld", "pretrain_toy", "align", "generate", "score", "geometry"):
        assert int(three[rule]) == 3 * int(one[rule]), rule
    assert three["aggregate"] == three["claims"] == "1"
    paper = dry_run("--configfile", "configs/paper.yaml", "--config", "seeds=[0,1]")
    assert paper["fetch_model"] == "2" and int(paper["align"]) == 2 * int(dry_run("--configfile",
                                                                              "configs/paper.yaml")["align"])
