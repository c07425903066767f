import pytest

from taxfree.aggregate import score_rows
from taxfree.io import write_jsonl
from taxfree.metrics import bootstrap_interval


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
    write_jsonl(tmp_path / "s.jsonl", [{"prompt": "p", "response": "r", "refusal": i < 3, "n_response_tokens": 10 + i}
                                       for i in range(4)])
    rows = score_rows("m", "v", "b", {"judge": "refusal", "category": "safety"}, tmp_path / "s.jsonl")
    refusal, tokens = rows
    assert (refusal["metric"], refusal["value"], refusal["n"]) == ("refusal_rate", 0.75, 4)
    assert refusal["ci_low"] <= 0.75 <= refusal["ci_high"]
    assert (tokens["metric"], tokens["value"]) == ("response_tokens", 11.5)
