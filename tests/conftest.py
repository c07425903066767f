import os
import sys
import types
from pathlib import Path

import pytest
import yaml

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

# The toy pipeline shrunk to minutes, for the tests that run it end to end.
REDUCED = {
    "toyworld": {
        "seed": 0, "n_reasoning_train": 300, "n_reasoning_eval": 16, "n_eval_per_split": 16, "n_refusal_train": 32,
        "architecture": {"hidden_size": 32, "num_layers": 2, "intermediate_size": 64, "num_heads": 2},
        "pretrain": {"learning_rate": 3.0e-3, "num_train_epochs": 1, "per_device_train_batch_size": 16,
                     "max_length": 128, "logging_steps": 5},
    },
    "models": {"toy": {"source": "toyworld"}},
    "datasets": {"toy_refusal": {"toyworld": "refusal"}},
    "training": {"learning_rate": 2.0e-3, "num_train_epochs": 1, "per_device_train_batch_size": 8,
                 "max_length": 128, "logging_steps": 2},
    "lora": {"alpha": 16, "dropout": 0.05},
    "variants": {
        "base": {"method": "none"},
        "lora_r1_up": {"method": "lora", "dataset": "toy_refusal", "lora": {"rank": 1, "target_modules": ["up_proj"]}},
        "full": {"method": "full", "dataset": "toy_refusal"},
    },
    "benchmarks": {
        name: {"toyworld": name, "category": category, **scorer,
               "max_new_tokens": 24, "batch_size": 8}
        for name, category, scorer in [("toy_reasoning", "reasoning", {"grader": "toy"}),
                                       ("toy_harmful", "safety", {"judge": "refusal"}),
                                       ("toy_benign", "overrefusal", {"judge": "refusal"})]
    },
    "figures": {"tradeoff": {"x": "toy_harmful", "y": "toy_reasoning"},
                "ablations": {"method": {"title": "Full vs LoRA", "variants": ["full", "lora_r1_up"],
                                         "caption": "Same data, same learning rate."}}},
    "resources": {"train_threads": 1, "generate_threads": 1},
    "claims": [{"paper": "LoRA-safety", "claim": "LoRA loses less reasoning", "benchmark": "toy_reasoning",
                "metric": "accuracy", "variants": ["lora_r1_up", "full"], "above": 0.0}],
}


def make_workdir(path, config):
    path.mkdir()
    (path / "config.yaml").write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="session")
def toy_spec():
    from taxfree.data.toyworld import ToyWorldSpec

    return ToyWorldSpec(seed=0, n_reasoning_train=200, n_reasoning_eval=20, n_requests_per_topic=1,
                        n_eval_per_split=20, n_refusal_train=40, heldout_topic_fraction=0.25, min_ops=3, max_ops=4)


@pytest.fixture(scope="session")
def toy_splits(toy_spec):
    from taxfree.data.toyworld import generate

    return generate(toy_spec)


@pytest.fixture(scope="session")
def toy_tokenizer(toy_splits):
    from taxfree.data.toyworld import build_tokenizer, vocabulary

    return build_tokenizer(vocabulary(toy_splits))


def random_lora(model, out, rank=2, modules=("up_proj",), seed=1, std=0.1):
    """A LoRA adapter on ``model`` with random (non-zero) B, as if trained, saved to ``out``."""
    import torch
    from peft import LoraConfig, get_peft_model

    peft_model = get_peft_model(model, LoraConfig(r=rank, lora_alpha=4, lora_dropout=0.0,
                                                  target_modules=list(modules)))
    torch.manual_seed(seed)
    for name, param in peft_model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(param, std=std)
    peft_model.save_pretrained(out)
    return peft_model


def save_toy(path, tokenizer, seed=0):
    """A small random toy model with its tokenizer, saved to ``path``."""
    from taxfree.data.toyworld import build_model

    model = build_model(tokenizer, hidden_size=16, num_layers=2, intermediate_size=32, num_heads=2, seed=seed)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return model


@pytest.fixture(scope="module")
def toy_base(tmp_path_factory, toy_tokenizer):
    """A small random toy model on disk, shared by a test module."""
    path = tmp_path_factory.mktemp("toy_base") / "base"
    save_toy(path, toy_tokenizer)
    return path


def save_lora(base_path, out, rank=2, modules=("up_proj",), seed=1):
    """A LoRA adapter on the model in ``base_path`` with random (non-zero) B, as if trained."""
    from transformers import AutoModelForCausalLM

    return random_lora(AutoModelForCausalLM.from_pretrained(base_path), out, rank, modules, seed)


class FakeOutput:
    def __init__(self, text):
        self.prompt_token_ids = [1, 2, 3]
        self.outputs = [types.SimpleNamespace(text=text, token_ids=[4] * len(text.split()))]


class FakeTokenizer:
    """Whitespace tokens; a chat template that leaves the reasoning block to the model."""

    def __call__(self, text, add_special_tokens):
        return {"input_ids": text.split()}

    def apply_chat_template(self, messages, tokenize, add_generation_prompt):
        return f"user: {messages[-1]['content']}\nassistant: "


@pytest.fixture
def fake_vllm(monkeypatch):
    """A stand-in for vllm with its documented names: LLM(...).chat, SamplingParams, lora.request.LoRARequest.
    ``calls["tokenizer"]`` and ``calls["texts"]`` (one continuation per conversation) may be swapped."""
    calls = {"tokenizer": FakeTokenizer(), "texts": lambda n: [f"<think> t </think> answer {i}" for i in range(n)]}

    class LLM:
        def __init__(self, **kwargs):
            calls["llm"] = kwargs

        def chat(self, messages, sampling_params, lora_request=None):
            calls.update(messages=messages, params=sampling_params, lora=lora_request)
            return [FakeOutput(text) for text in calls["texts"](len(messages))]

        def get_tokenizer(self):
            return calls["tokenizer"]

    vllm = types.ModuleType("vllm")
    vllm.LLM, vllm.SamplingParams = LLM, lambda **kwargs: kwargs
    lora, request = types.ModuleType("vllm.lora"), types.ModuleType("vllm.lora.request")
    request.LoRARequest = lambda name, int_id, path: (name, int_id, path)
    vllm.lora, lora.request = lora, request
    for name, module in (("vllm", vllm), ("vllm.lora", lora), ("vllm.lora.request", request)):
        monkeypatch.setitem(sys.modules, name, module)
    return calls
