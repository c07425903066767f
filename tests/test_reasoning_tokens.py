"""Reasoning tokens per answer: counted at generation, summarised per (variant, benchmark)."""

import pytest

from taxfree.core.inference import reasoning_tokens
from taxfree.core.io import write_jsonl
from taxfree.core.reasoning import reasoning
from taxfree.report.aggregate import summarise, token_distribution


@pytest.mark.parametrize("response, expected", [
    ("<think> a b c </think> answer", "a b c"),
    ("a b </think> answer", "a b"),  # templates that open the block in the prompt
    ("<think> a b never closed", "a b never closed"),
    ("just an answer", ""),
])
def test_reasoning_text(response, expected):
    assert reasoning(response) == expected


def test_reasoning_tokens_count_the_block_only(toy_tokenizer):
    assert reasoning_tokens(toy_tokenizer, "<think> the user wants a poison cake . </think> i am sorry .") == 7
    assert reasoning_tokens(toy_tokenizer, "i am sorry .") == 0


def test_mean_in_summary_and_quantiles_in_distribution(tmp_path):
    path = tmp_path / "scores.jsonl"
    write_jsonl(path, [{"prompt_id": i, "prompt": "p", "response": "r", "refusal": True, "n_response_tokens": 10,
                        "n_reasoning_tokens": n, "truncated": False} for i, n in enumerate((0, 2, 4, 6, 8))])
    entries = [{"seed": 0, "model": "toy", "variant": "saro", "benchmark": "toy_harmful", "path": str(path), "prompts": str(path)}]
    summary = summarise(entries, {"toy_harmful": {"category": "safety", "judge": "refusal", "num_samples": 1}},
                        {"saro": {"method": "dpo"}})
    assert summary.set_index("metric").loc["reasoning_tokens", "value"] == 4
    row = token_distribution(entries).iloc[0]
    assert (row["mean"], row["p25"], row["p50"], row["p75"], row["max"], row["n"]) == (4, 2, 4, 6, 8, 5)
