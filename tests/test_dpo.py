"""SaRO's SRPO stage: DPO on the toy's pairs raises chosen over rejected against the starting model."""

import pytest

from taxfree.config.schema import load_schema, training_defaults, validate_config
from taxfree.core.io import write_jsonl
from taxfree.core.models import load_model, load_tokenizer
from taxfree.data.preferences import load_preference_dataset, pairs_for_prompt
from taxfree.data.toyworld import save_initial_model
from taxfree.training.trainer import train

PAIRS = {key: prop["default"] for key, prop in load_schema()["$defs"]["pairs"]["properties"].items()}
DPO = {key: prop["default"] for key, prop in load_schema()["$defs"]["dpo"]["properties"].items()}


def completion_logp(model, tokenizer, prompt, completion):
    """Summed log-probability of the completion's tokens given the prompt."""
    import torch

    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    ids = tokenizer(prompt + completion + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0, :-1]
    logps = logits.log_softmax(-1).gather(1, torch.tensor(ids[1:])[:, None])[:, 0]
    return float(logps[len(prompt_ids) - 1:].sum())


def mean_margin(model_dir, dataset):
    """Mean over pairs of log p(chosen) - log p(rejected)."""
    model, tokenizer = load_model(model_dir, dtype="float32").eval(), load_tokenizer(model_dir)
    return sum(completion_logp(model, tokenizer, r["prompt"], r["chosen"])
               - completion_logp(model, tokenizer, r["prompt"], r["rejected"]) for r in dataset) / len(dataset)


@pytest.fixture(scope="module")
def toy_dpo(tmp_path_factory, toy_splits):
    root = tmp_path_factory.mktemp("dpo")
    save_initial_model(root / "base", toy_splits, hidden_size=32, num_layers=2, intermediate_size=64, num_heads=2,
                       seed=0)
    rows = [p for r in toy_splits["saro_candidates"][:8] for p in pairs_for_prompt(r["prompt"], r["harmful"],
                                                                                     r["candidates"], PAIRS)]
    write_jsonl(root / "pairs.jsonl", rows)
    return root


@pytest.mark.parametrize("dpo", [{}, {"parameters": "lora", "reference": "precomputed"}], ids=["full", "lora"])
def test_dpo_moves_chosen_over_rejected(toy_dpo, dpo, tmp_path):
    training = {**training_defaults(), "learning_rate": 3e-3, "num_train_epochs": 3, "per_device_train_batch_size": 8,
                "max_length": 128, "precision": "fp32", "seed": 0, "logging_steps": 1, "save_strategy": "no"}
    spec = {"method": "dpo", "training": training, "dpo": {**DPO, **dpo},
            "lora": {"rank": 4, "alpha": 16, "dropout": 0.0, "target_modules": ["all"], "bias": "none",
                     "layers": None}}
    metrics = train(toy_dpo / "base", toy_dpo / "pairs.jsonl", spec, tmp_path / "model", tmp_path / "checkpoints")

    dataset = load_preference_dataset(toy_dpo / "pairs.jsonl", load_tokenizer(toy_dpo / "base"))
    before, after = mean_margin(toy_dpo / "base", dataset), mean_margin(tmp_path / "model", dataset)
    assert after > before + 1.0, (before, after)
    logged = [e for e in metrics["log_history"] if "rewards/margins" in e]
    assert logged[-1]["rewards/margins"] > logged[0]["rewards/margins"]
    assert not (tmp_path / "checkpoints").exists()


def default_config():
    import yaml
    from conftest import REPO

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    validate_config(config)
    return config


def test_saro_variants_resolve():
    from taxfree.config.resolve import check_references

    specs = check_references(default_config())
    assert specs["saro"]["from"] == "saro_rw" and specs["saro"]["dpo"]["parameters"] == "full"
    assert specs["saro_rw"]["lora"]["target_modules"] == specs["lora_r1_up"]["lora"]["target_modules"]


@pytest.mark.parametrize("mutate, key, words", [
    (lambda c: c["variants"]["saro"].update(dataset="toy_refusal"), "variants.saro.dataset", "format candidates"),
    (lambda c: c["variants"]["saro_rw"].update(dataset="toy_saro_pairs"), "variants.saro_rw.dataset", "method dpo"),
    (lambda c: c["variants"]["saro"]["dpo"].update(beta=0), "variants.saro.dpo.beta", "minimum"),
    (lambda c: c["variants"]["saro_rw"].update(dpo={"beta": 0.1}), "variants.saro_rw.dpo", "only `dpo`"),
    (lambda c: c["variants"]["saro"].update(lora={"rank": 2}), "variants.saro.lora", "parameters lora"),
])
def test_bad_dpo_config_names_the_key(mutate, key, words):
    from taxfree.config.resolve import check_references
    from taxfree.core.errors import ConfigError

    config = default_config()
    mutate(config)
    with pytest.raises(ConfigError, match=f"config key '{key}'.*{words}"):
        check_references(config)


def test_a_merged_lora_start_trains_in_full(toy_dpo, tmp_path):
    """SRPO starts from the warmup's adapter merged into its base; PEFT had frozen those weights."""
    from peft import LoraConfig, get_peft_model

    model = get_peft_model(load_model(toy_dpo / "base", dtype="float32"),
                           LoraConfig(r=1, target_modules=["up_proj"], task_type="CAUSAL_LM"))
    model.save_pretrained(tmp_path / "adapter")
    merged = load_model(tmp_path / "adapter", dtype="float32")
    assert all(p.requires_grad for p in merged.parameters())


def test_dpo_settings_reach_trl(tmp_path):
    from taxfree.training.methods.dpo import dpo_arguments

    training = {**training_defaults(), "num_train_epochs": 1, "precision": "fp32"}
    plain = dpo_arguments(training, DPO, tmp_path)
    assert (plain.beta, plain.loss_type, plain.precompute_ref_log_probs) == (0.1, ["sigmoid"], False)
    assert not plain.bf16 and not plain.gradient_checkpointing
    rpo = dpo_arguments(training, {**DPO, "beta": 0.5, "sft_weight": 0.3, "reference": "precomputed"}, tmp_path)
    assert (rpo.beta, rpo.loss_type, rpo.loss_weights) == (0.5, ["sigmoid", "sft"], [1.0, 0.3])
    assert rpo.precompute_ref_log_probs
