import pytest

from taxfree.core.io import write_jsonl
from taxfree.evaluation.metrics import bootstrap_interval, pass_at_k
from taxfree.report.aggregate import score_rows


def test_interval_brackets_the_mean_and_shrinks_with_n():
    small = bootstrap_interval([1, 0] * 10)
    large = bootstrap_interval([1, 0] * 500)
    assert small[0] < 0.5 < small[1] and large[0] < 0.5 < large[1]
    assert large[1] - large[0] < small[1] - small[0]
    # Binomial standard error at n=1000, p=0.5 is 0.0158: the 95% interval is about +-0.031.
    assert large[1] - large[0] == pytest.approx(2 * 1.96 * 0.0158, abs=0.01)


def test_interval_is_deterministic_and_degenerate_for_constant_scores():
    assert bootstrap_interval([0, 1, 1]) == bootstrap_interval([0, 1, 1])
    assert bootstrap_interval([1.0] * 7) == (1.0, 1.0)


def test_score_rows_have_value_and_interval(tmp_path):
    write_jsonl(tmp_path / "s.jsonl", [{"prompt_id": i, "prompt": "p", "response": "r", "refusal": i < 3,
                                        "n_response_tokens": 10 + i, "n_reasoning_tokens": i, "truncated": False}
                                       for i in range(4)])
    rows = score_rows("m", "v", "b", {"judge": "refusal", "category": "safety"}, tmp_path / "s.jsonl", 4)
    refusal, tokens, reasoning = rows
    assert (refusal["metric"], refusal["value"], refusal["n"]) == ("refusal_rate", 0.75, 4)
    assert refusal["ci_low"] <= 0.75 <= refusal["ci_high"]
    assert (tokens["metric"], tokens["value"]) == ("response_tokens", 11.5)
    assert (reasoning["metric"], reasoning["value"]) == ("reasoning_tokens", 1.5)


def test_pass_at_k_is_the_unbiased_estimator():
    assert pass_at_k(8, 0, 4) == 0.0 and pass_at_k(8, 8, 1) == 1.0 and pass_at_k(8, 5, 4) == 1.0
    assert pass_at_k(8, 2, 1) == pytest.approx(0.25)
    assert pass_at_k(4, 1, 2) == pytest.approx(1 - 3 / 6)  # 1 - C(3,2)/C(4,2)
    with pytest.raises(ValueError, match="pass@4 needs at least 4 samples"):
        pass_at_k(2, 1, 4)


def test_samples_average_per_prompt_and_the_interval_is_over_prompts(tmp_path):
    # Prompt 0: 3 of 4 samples correct; prompt 1: none; prompt 2: all four.
    correct = {0: [1, 1, 1, 0], 1: [0, 0, 0, 0], 2: [1, 1, 1, 1]}
    write_jsonl(tmp_path / "s.jsonl", [{"prompt_id": p, "sample": s, "correct": bool(c), "n_response_tokens": 4,
                                                   "n_reasoning_tokens": 1, "truncated": False}
                                       for p, samples in correct.items() for s, c in enumerate(samples)])
    spec = {"grader": "math", "category": "reasoning", "pass_at_k": [1, 2, 4]}
    rows = {r["metric"]: r for r in score_rows("m", "v", "b", spec, tmp_path / "s.jsonl", 12)}
    assert rows["accuracy"]["value"] == pytest.approx((0.75 + 0 + 1) / 3)
    assert (rows["accuracy"]["n"], rows["accuracy"]["samples"], rows["accuracy"]["invalid"]) == (3, 12, 0)
    assert rows["pass@1"]["value"] == pytest.approx(rows["accuracy"]["value"])
    assert rows["pass@2"]["value"] == pytest.approx((1 + 0 + 1) / 3)
    assert rows["pass@4"]["value"] == pytest.approx(2 / 3)
    # Prompts, not samples, are resampled: the interval is that of the three prompt means.
    interval = (rows["accuracy"]["ci_low"], rows["accuracy"]["ci_high"])
    assert interval == bootstrap_interval([0.75, 0.0, 1.0])
    assert interval != bootstrap_interval([c for samples in correct.values() for c in samples])


def test_invalid_judgements_are_counted_and_left_out(tmp_path):
    safe = [True, None, False, True, None]
    write_jsonl(tmp_path / "s.jsonl", [{"prompt_id": i, "safe": v, "n_response_tokens": 3, "n_reasoning_tokens": 1,
                                        "truncated": False} for i, v in enumerate(safe)])
    (safety, tokens, _) = score_rows("m", "v", "b", {"judge": "llama_guard", "category": "safety"}, tmp_path / "s.jsonl",
                                    5)
    assert (safety["metric"], safety["value"], safety["n"], safety["invalid"]) == ("safety", 2 / 3, 3, 2)
    assert tokens["invalid"] == 2 and tokens["samples"] == 5
