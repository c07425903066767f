import math

import pandas as pd
import pytest

from taxfree.core.errors import InputError
from taxfree.core.io import write_jsonl
from taxfree.report.aggregate import summarise, to_metrics, variant_parameters, write_table
from taxfree.report.seeds import across_seeds

SPECS = {
    "base": {"method": "none"},
    "lora_r1_up": {"method": "lora", "dataset": "d", "training": {"learning_rate": 2e-3, "seed": 42},
                   "lora": {"rank": 1, "target_modules": ["up_proj", "down_proj"], "layers": {"from": 1, "to": 2}}},
}
BENCHMARKS = {"harmful": {"judge": "refusal", "category": "safety", "num_samples": 1}}


def prompts(tmp_path, n, samples=1):
    """A prepared benchmark of ``n`` prompts, ``samples`` rows each."""
    path = tmp_path / "benchmark.jsonl"
    write_jsonl(path, [{"prompt_id": i, "sample": s, "prompt": "p"} for i in range(n) for s in range(samples)])
    return path


def entries(tmp_path):
    result, prepared = [], prompts(tmp_path, 4)
    for variant, refused in (("base", 0), ("lora_r1_up", 3)):
        path = tmp_path / f"{variant}.jsonl"
        write_jsonl(path, [{"prompt_id": i, "refusal": i < refused, "n_response_tokens": 5, "n_reasoning_tokens": 2,
                            "truncated": False} for i in range(4)])
        result.append({"seed": 0, "model": "toy", "variant": variant, "benchmark": "harmful", "path": path, "prompts": prepared})
    return result


def test_parameters_become_one_scalar_column_each():
    params = variant_parameters(SPECS).set_index("variant")
    assert params.loc["lora_r1_up", "training.learning_rate"] == 2e-3
    assert params.loc["lora_r1_up", "lora.rank"] == 1
    assert params.loc["lora_r1_up", "lora.target_modules"] == "up_proj,down_proj"
    assert params.loc["lora_r1_up", "lora.layers"] == '{"from": 1, "to": 2}'
    assert pd.isna(params.loc["base", "lora.rank"])


def test_results_table_carries_values_intervals_and_parameters(tmp_path):
    summary = summarise(entries(tmp_path), BENCHMARKS, SPECS)
    refusal = summary[summary["metric"] == "refusal_rate"].set_index("variant")
    assert refusal.loc["lora_r1_up", "value"] == 0.75 and refusal.loc["base", "value"] == 0.0
    assert refusal.loc["lora_r1_up", "method"] == "lora" and refusal.loc["base", "method"] == "none"
    assert refusal.loc["lora_r1_up", "training.seed"] == 42
    assert {"ci_low", "ci_high", "n"} <= set(summary.columns)


def test_csv_and_parquet_hold_the_same_table(tmp_path):
    summary = summarise(entries(tmp_path), BENCHMARKS, SPECS)
    write_table(summary, tmp_path / "s.csv", tmp_path / "s.parquet")
    from_csv, from_parquet = pd.read_csv(tmp_path / "s.csv"), pd.read_parquet(tmp_path / "s.parquet")
    assert list(from_parquet.columns) == list(summary.columns)
    pd.testing.assert_frame_equal(from_csv, from_parquet, check_dtype=False, rtol=1e-5)


def test_a_judge_with_no_valid_reply_gives_nan_with_the_invalid_count(tmp_path):
    # A model judge whose replies never parse (the smoke config's tiny judge): the table keeps the
    # benchmark, says NaN with n 0 and every row invalid, and the lengths are still reported.
    path = tmp_path / "guard.jsonl"
    write_jsonl(path, [{"prompt_id": i // 2, "sample": i % 2, "safe": None, "n_response_tokens": 6,
                        "n_reasoning_tokens": 3, "truncated": False} for i in range(6)])
    summary = summarise([{"seed": 0, "model": "tiny", "variant": "base", "benchmark": "guard", "path": path,
                          "prompts": prompts(tmp_path, 3, samples=2)}],
                        {"guard": {"judge": "llama_guard", "category": "safety", "num_samples": 2}}, SPECS)
    safety = summary.set_index("metric").loc["safety"]
    assert math.isnan(safety["value"]) and math.isnan(safety["ci_low"]) and math.isnan(safety["ci_high"])
    assert (safety["n"], safety["samples"], safety["invalid"], safety["truncated"]) == (0, 6, 6, 0)
    assert summary.set_index("metric").loc["response_tokens", "value"] == 6
    assert to_metrics(across_seeds(summary))["tiny"]["base"]["guard"] == {"safety": None, "response_tokens": 6.0,
                                                            "reasoning_tokens": 3.0}


def test_a_score_file_cut_short_fails_naming_the_file_and_counts(tmp_path):
    cases = entries(tmp_path)
    path = cases[1]["path"]
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:2]))  # half its rows
    with pytest.raises(InputError, match=rf"{path}: 2 rows, but .* make 4"):
        summarise(cases, BENCHMARKS, SPECS)


@pytest.mark.parametrize("field, value", [("refusal", "NaN"), ("n_response_tokens", "Infinity"),
                                          ("n_reasoning_tokens", "null")])
def test_a_non_finite_number_in_a_score_file_fails_naming_file_row_and_field(tmp_path, field, value):
    cases = entries(tmp_path)
    path = cases[0]["path"]
    lines = path.read_text().splitlines(keepends=True)
    lines[2] = lines[2].replace(f'"{field}": ', f'"{field}": {value}, "was": ')
    path.write_text("".join(lines))
    with pytest.raises(InputError, match=rf"{path}: row 3 \(prompt_id 2\): field '{field}' is .*not a finite number"):
        summarise(cases, BENCHMARKS, SPECS)
