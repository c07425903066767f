"""Training rows longer than max_length are counted and dropped; too many of them, or all, fail naming the file."""

import logging

import pytest

from taxfree.config.schema import training_defaults
from taxfree.core.errors import InputError
from taxfree.core.io import write_jsonl
from taxfree.data.datasets import load_sft_dataset, n_tokens, render


def rows_of(toy_splits, n_long, n_short):
    short = toy_splits["refusal"][:n_short]
    long = [{"prompt": row["prompt"], "completion": [{"role": "assistant",
                                                      "content": " ".join([row["completion"][0]["content"]] * 20)}]}
            for row in toy_splits["refusal"][:n_long]]
    return long + short


def test_a_few_overlong_rows_are_dropped_and_counted(tmp_path, toy_splits, toy_tokenizer, caplog):
    path = tmp_path / "data.jsonl"
    write_jsonl(path, rows_of(toy_splits, 1, 19))
    with caplog.at_level(logging.WARNING):
        dataset = load_sft_dataset(path, toy_tokenizer, 128, 0.05)
    assert len(dataset) == 19
    assert f"{path}: 1 of 20 rows are longer than training.max_length (128 tokens" in caplog.text


def test_more_overlong_rows_than_the_knob_allows_fail_naming_the_file(tmp_path, toy_splits, toy_tokenizer):
    path = tmp_path / "data.jsonl"
    write_jsonl(path, rows_of(toy_splits, 2, 18))
    with pytest.raises(InputError, match=rf"^{path}: 2 of 20 rows are longer .* more than "
                                         r"training.max_overlong_fraction \(0.05\) allows"):
        load_sft_dataset(path, toy_tokenizer, 128, 0.05)
    assert len(load_sft_dataset(path, toy_tokenizer, 128, 0.1)) == 18


def test_all_rows_overlong_is_a_clear_error_naming_the_file(tmp_path, toy_splits, toy_tokenizer):
    path = tmp_path / "data.jsonl"
    write_jsonl(path, rows_of(toy_splits, 3, 0))
    with pytest.raises(InputError, match=rf"^{path}: 3 of 3 rows are longer .*: no row is left to train on"):
        load_sft_dataset(path, toy_tokenizer, 128, 1.0)


def test_the_toy_defaults_train_on_every_row(toy_splits, toy_tokenizer):
    # The default config.yaml's max_length for alignment and pretraining: no toy row is dropped.
    assert training_defaults()["max_overlong_fraction"] == 0.05
    for split in ("refusal", "pretrain"):
        assert max(n_tokens(render(row, toy_tokenizer), toy_tokenizer) for row in toy_splits[split]) <= 128, split
