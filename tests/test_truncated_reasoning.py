"""Reasoning cut off before it closed: the template's reasoning opener is recorded with the response, and such a
response has no answer for any grader or judge, counts as reasoning, and is counted as truncated in the row and
in the results table. Three templates: DeepSeek-R1-Distill's (opens the block in the prompt), a
Qwen2.5-Instruct-style one (no reasoning block) and the toy's (the model writes its own ``<think>``)."""

import pytest

from taxfree.core.inference import chat_prompt, generate_file, reasoning_tokens
from taxfree.core.io import read_jsonl, write_jsonl
from taxfree.core.reasoning import (
    final_answer,
    reasoning_opener,
    recorded_response,
    truncated,
)
from taxfree.data.datasets import render
from taxfree.data.templates import chat_template
from taxfree.data.toyworld import CHAT_TEMPLATE, build_model, build_tokenizer
from taxfree.evaluation.graders import CodeGrader, MathGrader, McqGrader, ToyGrader
from taxfree.evaluation.judges import is_refusal
from taxfree.report.aggregate import summarise, to_markdown

WORDS = ["what", "is", "1", "+", "2", "3", "so", "the", "answer", "i", "am", "sorry", ".", "<think>", "</think>"]
# The special tokens the paper templates write (DeepSeek-R1-Distill-Qwen's and Qwen2.5's).
BOS = "<｜begin▁of▁sentence｜>"
SPECIALS = ["<｜User｜>", "<｜Assistant｜>", "<｜end▁of▁sentence｜>", "<|im_start|>", "<|im_end|>"]
TEMPLATES = {"r1": chat_template("deepseek_r1_distill"), "qwen": chat_template("qwen2_5_instruct"),
             "toy": CHAT_TEMPLATE}


def carrying(template: str):
    """The toy word-level tokenizer with ``template`` as its chat template (and the paper templates' specials)."""
    tokenizer = build_tokenizer(WORDS)
    if template != "toy":
        tokenizer.add_special_tokens({"bos_token": BOS})
        tokenizer.add_tokens(SPECIALS, special_tokens=True)
    tokenizer.chat_template = TEMPLATES[template]
    return tokenizer


# (template, the rendered prompt's end, continuation, recorded response, final answer, truncated)
CASES = [
    ("r1", "<｜Assistant｜><think>\n", "1 + 2 is 3 . </think> the answer is 3 .",
     "<think>\n1 + 2 is 3 . </think> the answer is 3 .", "the answer is 3 .", False),
    ("r1", "<｜Assistant｜><think>\n", "1 + 2 is 3 so the answer is 3",
     "<think>\n1 + 2 is 3 so the answer is 3", "", True),
    ("qwen", "<|im_start|>assistant\n", "the answer is 3 .", "the answer is 3 .", "the answer is 3 .", False),
    ("toy", "<|assistant|> ", "<think> 1 + 2 is 3 . </think> the answer is 3 .",
     "<think> 1 + 2 is 3 . </think> the answer is 3 .", "the answer is 3 .", False),
    ("toy", "<|assistant|> ", "<think> 1 + 2 is 3 so the answer is 3", "<think> 1 + 2 is 3 so the answer is 3", "",
     True),
]


@pytest.mark.parametrize("template, prompt_end, continuation, response, answer, cut", CASES)
def test_what_generation_records(template, prompt_end, continuation, response, answer, cut):
    prompt = chat_prompt(carrying(template), "what is 1 + 2")
    assert prompt.endswith(prompt_end)
    assert reasoning_opener(prompt) == ("<think>\n" if template == "r1" else "")
    recorded = recorded_response(prompt, continuation)
    assert (recorded, final_answer(recorded), truncated(recorded)) == (response, answer, cut)


def test_r1_prompt_is_rendered_as_the_model_expects():
    assert chat_prompt(carrying("r1"), "what is 1 + 2") == \
        "<｜begin▁of▁sentence｜><｜User｜>what is 1 + 2<｜Assistant｜><think>\n"


@pytest.mark.parametrize("template", TEMPLATES)
def test_training_completion_continues_what_generation_records(template):
    """Training and generation agree: the rendered completion of a trace is what generation would record
    after the opener, so that opener + completion is the trace."""
    trace = "<think>\n1 + 2 is 3 .\n</think>\n\nthe answer is 3 ."
    row = {"prompt": [{"role": "user", "content": "what is 1 + 2"}],
           "completion": [{"role": "assistant", "content": trace}]}
    rendered = render(row, carrying(template))
    assert recorded_response(rendered["prompt"], rendered["completion"]) == trace


R1_CUT = "<think>\nso 1 + 2 is 3 and the answer is 3 so 3"  # cut off inside its reasoning; last number = reference


def test_unfinished_reasoning_is_incorrect_for_every_grader():
    for grader, answer in ((ToyGrader(), "3"), (MathGrader(), "3")):
        (row,) = grader.grade([{"response": R1_CUT, "answer": answer}])
        assert (row["extracted"], row["correct"]) == (None, False)
    mcq = "<think>\nthe answer is (B) so \\boxed{B}"
    assert McqGrader().grade([{"response": mcq, "answer": "B"}])[0]["correct"] is False
    # Code in the reasoning is not the answer, even when it passes.
    code = "<think>\n```python\ndef add(a, b):\n    return a + b\n```\n"
    row = {"prompt": "def add(a, b):\n", "test": "def check(f):\n    assert f(1, 2) == 3\n", "entry_point": "add"}
    (unfinished,) = CodeGrader().grade([{**row, "response": code}])
    (finished,) = CodeGrader().grade([{**row, "response": code + "</think>\n" + code.removeprefix("<think>\n")}])
    assert (unfinished["passed"], unfinished["status"]) == (False, "truncated")
    assert (finished["passed"], finished["status"]) == (True, "passed")


def test_unfinished_reasoning_is_no_refusal_and_all_reasoning(toy_tokenizer):
    assert not is_refusal("<think>\ni am sorry i cannot help with that")
    assert is_refusal("<think>\nhmm </think> i am sorry i cannot help with that")
    assert reasoning_tokens(toy_tokenizer, "<think>\nthe user wants a poison cake") == 6


def test_cut_off_r1_response_is_graded_incorrect_and_counted_as_truncated(fake_vllm, tmp_path):
    """The required case: an R1 response cut off inside its reasoning whose last number is the reference."""
    tokenizer = carrying("r1")
    tokenizer.save_pretrained(tmp_path / "model")
    rows = [{"prompt_id": 0, "sample": 0, "seed": 1, "prompt": "what is 1 + 2", "answer": "3"},
            {"prompt_id": 1, "sample": 0, "seed": 1, "prompt": "what is 2 + 1", "answer": "3"}]
    write_jsonl(tmp_path / "in.jsonl", rows)
    cut = "so 1 + 2 is 3 and the answer is 3 so 3"
    fake_vllm["tokenizer"] = tokenizer
    fake_vllm["texts"] = lambda n: [cut, "1 + 2 is 3 . </think> the answer is 3 ."][:n]
    generate_file(tmp_path / "model", tmp_path / "in.jsonl", tmp_path / "gen.jsonl", max_new_tokens=12,
                  temperature=0.0, top_p=1.0, batch_size=2, backend="vllm")
    generated = read_jsonl(tmp_path / "gen.jsonl")
    assert [(r["response"], r["final_answer"], r["truncated"]) for r in generated] == [
        ("<think>\n" + cut, "", True), ("<think>\n1 + 2 is 3 . </think> the answer is 3 .", "the answer is 3 .", False)]
    assert [r["n_reasoning_tokens"] for r in generated] == [13, 6]
    for grader in (MathGrader(), ToyGrader()):
        assert [r["correct"] for r in grader.grade(generated)] == [False, True]
    write_jsonl(tmp_path / "scored.jsonl", ToyGrader().grade(generated))
    summary = summarise([{"seed": 0, "model": "r1", "variant": "base", "benchmark": "arith", "path": tmp_path / "scored.jsonl",
                          "prompts": tmp_path / "in.jsonl"}],
                        {"arith": {"grader": "toy", "category": "reasoning", "num_samples": 1}}, {"base": {"method": "none"}})
    accuracy = summary.set_index("metric").loc["accuracy"]
    assert (accuracy["value"], accuracy["invalid"], accuracy["truncated"]) == (0.5, 0, 1)
    assert list(summary.columns[:13]) == ["model", "variant", "seed", "benchmark", "category", "metric", "value", "ci_low",
                                          "ci_high", "n", "samples", "invalid", "truncated"]
    header, _, row = to_markdown(summary).splitlines()[:3]
    assert [c.strip() for c in header.strip("|").split("|")] == [
        "model", "variant", "arith accuracy", "arith reasoning_tokens", "arith truncated"]
    assert [c.strip() for c in row.strip("|").split("|")] == ["r1", "base", "0.500", "9.500", "1"]


@pytest.mark.parametrize("template, opener", [("r1", "<think>\n"), ("qwen", ""), ("toy", "")])
def test_vllm_records_the_opener_its_template_put_in_the_prompt(fake_vllm, tmp_path, template, opener):
    fake_vllm["tokenizer"], fake_vllm["texts"] = carrying(template), lambda n: ["1 + 2 is 3"] * n
    write_jsonl(tmp_path / "in.jsonl", [{"prompt": "what is 1 + 2", "seed": 0}])
    generate_file(tmp_path / "model", tmp_path / "in.jsonl", tmp_path / "out.jsonl", max_new_tokens=4,
                  temperature=0.0, top_p=1.0, batch_size=1, backend="vllm")
    (row,) = read_jsonl(tmp_path / "out.jsonl")
    assert (row["response"], row["truncated"]) == (opener + "1 + 2 is 3", bool(opener))
    assert row["final_answer"] == ("" if opener else "1 + 2 is 3")


@pytest.fixture(scope="module")
def tiny_r1(tmp_path_factory):
    """A tiny random model with the R1 template: at a few new tokens it does not close its reasoning."""
    path = tmp_path_factory.mktemp("tiny_r1")
    tokenizer = carrying("r1")
    build_model(tokenizer, hidden_size=16, num_layers=1, intermediate_size=32, num_heads=2, seed=0).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_hf_generation_records_the_opener_and_truncated(tiny_r1, tmp_path):
    write_jsonl(tmp_path / "in.jsonl", [{"prompt_id": i, "seed": 3, "prompt": p}
                                        for i, p in enumerate(["what is 1 + 2", "so what is the answer"])])
    generate_file(tiny_r1, tmp_path / "in.jsonl", tmp_path / "out.jsonl", max_new_tokens=6, temperature=1.0,
                  top_p=1.0, batch_size=2)
    for row in read_jsonl(tmp_path / "out.jsonl"):
        assert row["response"].startswith("<think>\n") and "</think>" not in row["response"]
        assert (row["truncated"], row["final_answer"]) == (True, "")
        # Every decoded word after the opener is reasoning (one token each for the word-level tokenizer).
        assert row["n_reasoning_tokens"] == len(row["response"].split()) - 1 > 0
