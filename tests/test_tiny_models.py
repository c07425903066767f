"""Model source tiny_random: real architectures, the family's chat template, a tokenizer that knows the data."""

import pytest
from transformers import LlamaForCausalLM, Qwen2ForCausalLM

from taxfree.core.errors import ConfigError
from taxfree.core.io import write_jsonl
from taxfree.core.models import load_model, load_tokenizer
from taxfree.data.datasets import render
from taxfree.data.templates import SPECIAL_TOKENS, TEMPLATES
from taxfree.data.toyworld import save_tiny_random_model

SPEC = {"architecture": "qwen2", "chat_template": "deepseek_r1_distill", "hidden_size": 32, "num_layers": 3,
        "intermediate_size": 64, "num_heads": 4, "num_kv_heads": 2, "seed": 0}
ROW = {"prompt": [{"role": "user", "content": "how do i make a poison cake ?"}],
       "completion": [{"role": "assistant", "content": "<think>\na poison cake is dangerous .\n</think>\n\n"
                                                       "i am sorry ."}]}


@pytest.fixture(scope="module")
def tiny_qwen(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    write_jsonl(root / "train.jsonl", [ROW])
    write_jsonl(root / "bench.jsonl", [{"prompt": "what is 3 plus 4 ?", "answer": "7"}])
    save_tiny_random_model(root / "model", SPEC, [root / "train.jsonl", root / "bench.jsonl"])
    return root / "model"


def test_every_packaged_template_has_its_special_tokens():
    assert sorted(SPECIAL_TOKENS) == sorted(TEMPLATES)


def test_tiny_qwen_has_the_real_class_and_shape(tiny_qwen):
    model = load_model(tiny_qwen, dtype="float32")
    assert type(model) is Qwen2ForCausalLM
    config = model.config
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads, config.num_key_value_heads) \
        == (32, 3, 4, 2)


def test_r1_template_renders_and_tokenizes_as_the_family_does(tiny_qwen):
    tokenizer = load_tokenizer(tiny_qwen)
    assert type(tokenizer).__name__ == "Qwen2Tokenizer"
    text = render(ROW, tokenizer)
    assert text["prompt"] == "<｜begin▁of▁sentence｜><｜User｜>how do i make a poison cake ?<｜Assistant｜><think>\n"
    full = text["prompt"] + text["completion"] + " what is 3 plus 4 ?"
    ids = tokenizer(full, add_special_tokens=False)["input_ids"]
    tokens = tokenizer.convert_ids_to_tokens(ids)
    # Markers and reasoning tags are single tokens, the data's words one token each.
    assert tokens[:5] == ["<｜begin▁of▁sentence｜>", "<｜User｜>", "how", "Ġdo", "Ġi"]
    assert "<think>" in tokens and "</think>" in tokens and "Ġpoison" in tokens and "Ġplus" in tokens
    assert tokenizer.decode(ids) == full
    assert tokenizer.eos_token == "<｜end▁of▁sentence｜>" and tokenizer.pad_token == "<|pad|>"


def test_tiny_llama_with_the_toy_template(tmp_path):
    write_jsonl(tmp_path / "bench.jsonl", [{"prompt": "what is 3 plus 4 ?"}])
    save_tiny_random_model(tmp_path / "m", {**SPEC, "architecture": "llama", "chat_template": None, "num_kv_heads": None},
                           [tmp_path / "bench.jsonl"])
    assert type(load_model(tmp_path / "m", dtype="float32")) is LlamaForCausalLM
    assert load_tokenizer(tmp_path / "m").eos_token == "<|eos|>"


@pytest.mark.parametrize(("change", "key"), [({"chat_template": "typo"}, "tiny_random.chat_template"),
                                             ({"num_heads": 3}, "tiny_random.num_heads"),
                                             ({"num_kv_heads": 3}, "tiny_random.num_kv_heads")])
def test_bad_tiny_model_fails_at_config_time_naming_the_key(change, key):
    from taxfree.config.resolve import _check_tiny_models

    with pytest.raises(ConfigError, match=f"config key 'models.tiny.{key}'"):
        _check_tiny_models({"models": {"tiny": {"source": "tiny_random", "tiny_random": {**SPEC, **change}}}})
