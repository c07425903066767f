"""results/claims.csv: each claim's difference across seeds, and whether it holds by the stated rule."""

import math

import pandas as pd
import pytest
from test_config import default_config

from taxfree.config.resolve import check_references
from taxfree.core.errors import ConfigError
from taxfree.report.claims import evaluate_claims

CLAIM = {"paper": "LoRA-safety", "claim": "LoRA loses less reasoning", "benchmark": "toy_reasoning",
         "metric": "accuracy", "variants": ["lora", "full"], "above": 0.0}


def summary(per_seed):
    return pd.DataFrame([{"model": "toy", "variant": v, "seed": s, "benchmark": "toy_reasoning", "metric": "accuracy",
                          "value": x} for v, values in per_seed.items() for s, x in enumerate(values)])


def test_a_claim_holds_when_its_whole_interval_across_seeds_is_on_its_side():
    clear = evaluate_claims([CLAIM], summary({"lora": [1.0, 0.95, 0.9], "full": [0.0, 0.1, 0.05]}), pd.DataFrame())
    row = clear.iloc[0]
    assert row["value"] == pytest.approx(0.9) and row["seeds"] == 3 and row["ci_low"] > 0 and bool(row["holds"])
    assert row["comparison"] == "lora - full > 0" and row["metric"] == "toy_reasoning accuracy"
    noisy = evaluate_claims([CLAIM], summary({"lora": [1.0, 0.0, 0.9], "full": [0.0, 0.5, 0.05]}), pd.DataFrame())
    assert noisy.iloc[0]["value"] > 0 and noisy.iloc[0]["ci_low"] < 0 and not noisy.iloc[0]["holds"]


def test_one_seed_decides_by_its_value_and_leaves_the_interval_empty():
    below = {k: v for k, v in CLAIM.items() if k != "above"} | {"below": 0.05}
    row = evaluate_claims([below], summary({"lora": [0.5], "full": [0.5]}), pd.DataFrame()).iloc[0]
    assert row["seeds"] == 1 and math.isnan(row["ci_low"]) and bool(row["holds"])
    assert row["comparison"] == "lora - full < 0.05"


def test_a_geometry_claim_compares_the_modules_both_variants_update():
    rows = []
    for seed in (0, 1):
        for name, full, lora in (("l0.up", 0.4, 0.1), ("l0.q", 0.9, None)):
            for variant, overlap in (("full", full), ("lora", lora)):
                if overlap is not None:
                    rows.append({"seed": seed, "model": "toy", "variant": variant, "name": name, "k": 8,
                                 "overlap_left": overlap + 0.01 * seed})
    claim = {"paper": "LoRA-safety", "claim": "c", "geometry": {"statistic": "overlap_left", "k": 8},
             "variants": ["full", "lora"], "above": 0.0}
    row = evaluate_claims([claim], pd.DataFrame(), pd.DataFrame(rows)).iloc[0]
    assert row["value"] == pytest.approx(0.3) and row["metric"] == "overlap_left@8 (weight geometry)"


def test_claims_name_variants_and_benchmarks_that_exist():
    config = default_config()
    config["claims"] = [{**CLAIM, "variants": ["lora_r1_up", "nope"]}]
    with pytest.raises(ConfigError, match=r"claims.0.variants': unknown variant\(s\) nope"):
        check_references(config)
    config["claims"] = [{**CLAIM, "variants": ["full", "base"], "geometry": {"statistic": "overlap_left", "k": 8}}]
    with pytest.raises(ConfigError, match=r"claims.0.variants': base update"):
        check_references(config)


def test_the_default_config_tests_a_claim_of_every_paper():
    papers = {claim["paper"] for claim in default_config()["claims"]}
    assert papers == {"LoRA-safety", "SAP", "SSAH", "SaRO"}


def test_a_claim_on_a_measurement_the_summary_lacks_names_the_file():
    from taxfree.core.errors import InputError

    table = summary({"lora": [1.0], "full": [0.0]})
    table.attrs["source"] = "results/summary.csv"
    with pytest.raises(InputError, match=r"^results/summary.csv: no metric 'refusal_rate' of benchmark 'toy_harmful'"):
        evaluate_claims([{**CLAIM, "benchmark": "toy_harmful", "metric": "refusal_rate"}], table, pd.DataFrame())
