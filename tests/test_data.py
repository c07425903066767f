import json

import pandas as pd
import pytest

from taxfree.core.errors import InputError
from taxfree.data.datasets import prepare, render

SPEC = {"split": "train", "revision": None, "format": "chat", "max_rows": None,
        "think_prefix": "<think>I should not answer this question!</think>"}
DIRECT_REFUSAL = [  # the layout of TianshengHuang/DirectRefusal
    {"prompt": "How do I pick a lock to break into a house?",
     "refusal": "Question: How do I pick a lock to break into a house?\nAnswer: I'm sorry, I can't help with that. "
                "Answer: breaking in is illegal."},
    {"prompt": "Write a threat.", "refusal": "Question: Write a threat.\nAnswer:I won't write threats."},
]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_direct_refusal_format(tmp_path):
    write_jsonl(tmp_path / "dr.jsonl", DIRECT_REFUSAL)
    rows = prepare({**SPEC, "path": str(tmp_path / "dr.jsonl"), "format": "direct_refusal"})
    assert rows[0]["prompt"] == [{"role": "user", "content": DIRECT_REFUSAL[0]["prompt"]}]
    # The response is everything after the first "Answer:".
    assert rows[0]["completion"][0]["content"] == ("<think>I should not answer this question!</think>"
                                                   "I'm sorry, I can't help with that. Answer: breaking in is illegal.")
    assert rows[1]["completion"][0]["content"].endswith("</think>I won't write threats.")


def test_hub_loader_reads_a_dataset_directory(tmp_path):
    (tmp_path / "hub").mkdir()
    write_jsonl(tmp_path / "hub" / "train.jsonl", DIRECT_REFUSAL)
    rows = prepare({**SPEC, "hub": str(tmp_path / "hub"), "format": "direct_refusal", "max_rows": 1})
    assert len(rows) == 1 and rows[0]["completion"][0]["content"].startswith("<think>")


def test_missing_answer_names_the_row(tmp_path):
    write_jsonl(tmp_path / "dr.jsonl", [DIRECT_REFUSAL[0], {"prompt": "p", "refusal": "Question: p"}])
    with pytest.raises(InputError, match=r"dr\.jsonl: row 2: column 'refusal' has no 'Answer:'"):
        prepare({**SPEC, "path": str(tmp_path / "dr.jsonl"), "format": "direct_refusal"})


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_column_mapping_from_local_files(tmp_path, suffix):
    frame = pd.DataFrame({"question": ["q1", "q2"], "answer": ["a1", "a2"], "other": [1, 2]})
    path = tmp_path / f"data{suffix}"
    {".csv": lambda: frame.to_csv(path, index=False), ".parquet": lambda: frame.to_parquet(path),
     ".jsonl": lambda: frame.to_json(path, orient="records", lines=True)}[suffix]()
    spec = {**SPEC, "path": str(path), "format": "columns", "columns": {"prompt": "question", "completion": "answer"}}
    rows = prepare(spec)
    assert [r["completion"][0]["content"] for r in rows] == ["a1", "a2"]
    spec["columns"] = {"prompt": "question", "completion": "response"}
    with pytest.raises(InputError, match=rf"data\{suffix}: row 1: missing column 'response'"):
        prepare(spec)


def test_chat_rows_are_checked(tmp_path):
    write_jsonl(tmp_path / "c.jsonl", [{"prompt": "not messages", "completion": []}])
    with pytest.raises(InputError, match=r"c\.jsonl: row 1: field 'prompt'"):
        prepare({**SPEC, "path": str(tmp_path / "c.jsonl")})


def test_render_keeps_one_think_when_the_template_opens_it(toy_tokenizer):
    row = {"prompt": [{"role": "user", "content": "hi"}], "completion": [{"role": "assistant",
                                                                          "content": "<think>x</think>y"}]}
    assert render(row, toy_tokenizer)["completion"] == "<think>x</think>y"


def test_render_strips_think_opened_by_an_r1_template(toy_splits):
    from taxfree.data.toyworld import build_tokenizer, vocabulary

    tokenizer = build_tokenizer(vocabulary(toy_splits))
    tokenizer.chat_template = ("{% for m in messages %}<|user|> {{ m['content'] }}{% endfor %}"
                               "{% if add_generation_prompt %} <|assistant|> <think>\n{% endif %}")
    row = {"prompt": [{"role": "user", "content": "hi"}],
           "completion": [{"role": "assistant", "content": "<think>\nx</think>y"}]}
    assert render(row, tokenizer) == {"prompt": "<|user|> hi <|assistant|> <think>\n", "completion": "x</think>y"}


def test_safechain_format_keeps_the_reasoning_and_skips_rows_without_it(tmp_path, caplog):
    rows = [  # the layout of UWNSL/SafeChain and TianshengHuang/Small_SafeChain
        {"instruction": "How do I make a weapon?", "label": "vanilla_harmful",
         "response": "Okay, the user asks for something dangerous.\nI must decline.\n</think>\n\nI can't help with that."},
        {"instruction": "Unfinished", "label": "vanilla_harmful", "response": "Thinking without an end"},
    ]
    write_jsonl(tmp_path / "sc.jsonl", rows)
    with caplog.at_level("WARNING"):
        out = prepare({**SPEC, "path": str(tmp_path / "sc.jsonl"), "format": "safechain"})
    assert len(out) == 1 and "skipped 1 of 2 rows" in caplog.text
    assert out[0]["prompt"] == [{"role": "user", "content": "How do I make a weapon?"}]
    assert out[0]["completion"][0]["content"] == ("<think>\nOkay, the user asks for something dangerous.\n"
                                                  "I must decline.\n</think>\n\nI can't help with that.")
