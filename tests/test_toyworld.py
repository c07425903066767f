import dataclasses

import pytest

from taxfree.core.reasoning import final_answer
from taxfree.data.toyworld import HARMFUL_ATTRIBUTES, HELDOUT_TEMPLATES, generate, refusal_completion


def test_generator_is_deterministic(toy_spec, toy_splits):
    assert generate(toy_spec) == toy_splits
    assert generate(dataclasses.replace(toy_spec, seed=1)) != toy_splits


def test_heldout_topics_are_known_but_never_requested_in_training(toy_splits):
    """Pretraining's world knowledge names every topic; no training request (pretraining's or the refusal
    set's) asks about a held-out one."""
    def is_fact(row):
        return row["prompt"][0]["content"].startswith("is a ")

    requests = " ".join(r["prompt"][0]["content"] for split in ("pretrain", "refusal") for r in toy_splits[split]
                        if not is_fact(r))
    facts = " ".join(r["prompt"][0]["content"] for r in toy_splits["pretrain"] if is_fact(r))
    for split in ("toy_harmful", "toy_benign"):
        for row in toy_splits[split]:
            assert f"a {row['topic']} " not in requests, row["topic"]
            assert f"is a {row['topic']} dangerous ?" in facts, row["topic"]


def test_heldout_templates_only_in_evaluation(toy_splits):
    stems = [t.split("{topic}")[0] for t in HELDOUT_TEMPLATES]
    train_prompts = [r["prompt"][0]["content"] for s in ("pretrain", "refusal") for r in toy_splits[s]]
    assert not any(p.startswith(stem) for p in train_prompts for stem in stems)
    eval_prompts = [r["prompt"] for r in toy_splits["toy_harmful"] + toy_splits["toy_benign"]]
    assert any(p.startswith(stem) for p in eval_prompts for stem in stems)


def test_heldout_arithmetic_is_unseen_and_correct(toy_splits):
    train = {r["prompt"][0]["content"].split(" ", 1)[1] for r in toy_splits["pretrain"]}
    for row in toy_splits["toy_reasoning"]:
        assert row["prompt"].split(" ", 1)[1] not in train
    worked = next(r for r in toy_splits["pretrain"] if "answer is" in r["completion"][0]["content"])
    text = worked["completion"][0]["content"]
    assert text.startswith("<think> ") and "</think>" in text
    assert final_answer(text).startswith("the answer is ")


def test_harmful_refusal_is_the_refusal_sets_harmful_half(toy_splits):
    rows = toy_splits["harmful_refusal"]
    assert len(rows) == len(toy_splits["refusal"]) // 2
    assert all("i can not help" in r["completion"][0]["content"] for r in rows)
    assert all(any(a in r["prompt"][0]["content"] for a in HARMFUL_ATTRIBUTES) for r in rows)
    assert {r["prompt"][0]["content"] for r in rows} <= {r["prompt"][0]["content"] for r in toy_splits["refusal"]}


def test_refusal_set_has_benign_counter_examples(toy_splits):
    refused = [r for r in toy_splits["refusal"] if "i can not help" in r["completion"][0]["content"]]
    answered = [r for r in toy_splits["refusal"] if "step one" in r["completion"][0]["content"]]
    assert len(refused) == len(answered) == len(toy_splits["refusal"]) // 2
    assert all(r["prompt"][0]["content"].split(" a ")[-1].split()[0] in HARMFUL_ATTRIBUTES for r in refused)
    assert not any(r["prompt"][0]["content"].split(" a ")[-1].split()[0] in HARMFUL_ATTRIBUTES for r in answered)


def test_tokenizer_round_trip(toy_splits, toy_tokenizer):
    for row in toy_splits["pretrain"][:50]:
        text = row["completion"][0]["content"]
        ids = toy_tokenizer(text, add_special_tokens=False)["input_ids"]
        assert toy_tokenizer.unk_token_id not in ids
        assert toy_tokenizer.decode(ids) == text


def test_chat_template_marks_assistant_turn(toy_splits, toy_tokenizer):
    row = toy_splits["refusal"][0]
    out = toy_tokenizer.apply_chat_template(row["prompt"] + row["completion"], tokenize=True,
                                            return_dict=True, return_assistant_tokens_mask=True)
    mask = out["assistant_masks"]
    assistant = [t for t, m in zip(out["input_ids"], mask) if m]
    assert toy_tokenizer.decode(assistant) == row["completion"][0]["content"] + " " + toy_tokenizer.eos_token
    assert not any(mask[: len(toy_tokenizer(row["prompt"][0]["content"])["input_ids"])])


@pytest.mark.parametrize("seed", [0, 3])
def test_saved_model_loads_with_auto_classes(tmp_path, toy_splits, seed):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from taxfree.data.toyworld import save_initial_model

    save_initial_model(tmp_path, toy_splits, hidden_size=32, num_layers=2, intermediate_size=64, num_heads=2,
                       seed=seed)
    tokenizer = AutoTokenizer.from_pretrained(tmp_path)
    model = AutoModelForCausalLM.from_pretrained(tmp_path)
    assert model.config.vocab_size == len(tokenizer)
    assert tokenizer.chat_template and "generation" in tokenizer.chat_template


def test_saro_refusals_reason_longer_than_the_direct_refusal(toy_splits, toy_tokenizer):
    """SaRO's token overhead can only show if its refusing traces reason longer than refusal SFT's."""
    def reasoning_words(text):
        return len(text.split("</think>")[0].split())

    refused = [r for r in toy_splits["saro_traces"] if "i can not help" in r["completion"][0]["content"]]
    assert refused
    for row in refused:
        text = row["completion"][0]["content"]
        topic = row["prompt"][0]["content"].split(" a ")[-1].split()[:2]
        assert reasoning_words(text) > reasoning_words(refusal_completion(*topic)), text
    # Only words the unsafe model already writes in pretraining: new output words would first have to be learnt.
    written = {w for r in toy_splits["pretrain"] for w in r["completion"][0]["content"].split()}
    assert {w for r in toy_splits["saro_traces"] for w in r["completion"][0]["content"].split()} <= written
