"""training.evaluate_checkpoints: every epoch's model is exported, planned for evaluation, tabled and plotted."""

import json
import math

import pytest
import torch
from conftest import REPO
from PIL import Image
from safetensors.torch import load_file

from taxfree.config.resolve import epochs_evaluated, resolve_config
from taxfree.config.schema import training_defaults
from taxfree.core.errors import ConfigError
from taxfree.core.io import write_jsonl
from taxfree.report.aggregate import summarise_epochs
from taxfree.report.figures import epochs as epochs_figure


def lora_spec(epochs):
    training = {**training_defaults(), "learning_rate": 1e-2, "num_train_epochs": epochs, "precision": "fp32",
                "per_device_train_batch_size": 8, "max_length": 64, "seed": 0, "logging_steps": 1,
                "evaluate_checkpoints": ["toy_harmful"]}
    lora = {"rank": 1, "alpha": 16, "dropout": 0.0, "bias": "none", "target_modules": ["up_proj"], "layers": None}
    return {"method": "lora", "dataset": "toy_refusal", "training": training, "lora": lora}


def test_every_epoch_is_exported_as_a_loadable_adapter(tmp_path, toy_base, toy_splits):
    from taxfree.core.models import adapter_base, load_model
    from taxfree.training.trainer import train

    torch.set_num_threads(1)
    data = tmp_path / "data.jsonl"
    write_jsonl(data, toy_splits["refusal"][:16])
    out, epochs = tmp_path / "model", tmp_path / "epochs"
    train(toy_base, data, lora_spec(3), out, tmp_path / "checkpoints", {}, epochs)

    assert sorted(p.name for p in epochs.iterdir()) == ["1", "2", "3"]
    weights = {e: load_file(epochs / str(e) / "model" / "adapter_model.safetensors") for e in (1, 2, 3)}
    final = load_file(out / "adapter_model.safetensors")
    # The last epoch is the final model; earlier epochs are earlier points of the same run.
    assert all(torch.equal(final[k], weights[3][k]) for k in final)
    assert not all(torch.equal(weights[1][k], weights[3][k]) for k in final)
    first = epochs / "1" / "model"
    assert adapter_base(first) == str(toy_base)
    assert json.loads((first / "variant_spec.json").read_text())["training"]["num_train_epochs"] == 3
    assert load_model(str(first)) is not None and (first / "tokenizer_config.json").is_file()
    assert not (tmp_path / "checkpoints").exists()  # exports moved out, checkpoints gone as usual


def test_a_resumed_run_keeps_the_epochs_it_had_exported(tmp_path, toy_base, toy_splits, monkeypatch):
    """Killed after epoch 1's checkpoint: the rerun resumes from it and epoch 1's export is the first run's."""
    from taxfree.training import trainer as training

    torch.set_num_threads(1)
    data = tmp_path / "data.jsonl"
    write_jsonl(data, toy_splits["refusal"][:16])
    out, epochs, checkpoints = tmp_path / "model", tmp_path / "epochs", tmp_path / "checkpoints"
    export = training.EpochExport.on_epoch_end

    def dies_in_epoch_2(self, args, state, control, **kwargs):
        if round(state.epoch) == 2:
            raise KeyboardInterrupt("preempted")
        return export(self, args, state, control, **kwargs)

    monkeypatch.setattr(training.EpochExport, "on_epoch_end", dies_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        training.train(toy_base, data, lora_spec(3), out, checkpoints, {}, epochs)
    first = checkpoints / "epochs" / "1" / "model" / "adapter_model.safetensors"
    first_bytes, first_inode = first.read_bytes(), first.stat().st_ino
    assert not epochs.exists() and not out.exists()

    monkeypatch.setattr(training.EpochExport, "on_epoch_end", export)
    training.train(toy_base, data, lora_spec(3), out, checkpoints, {}, epochs)
    assert sorted(p.name for p in epochs.iterdir()) == ["1", "2", "3"]
    kept = epochs / "1" / "model" / "adapter_model.safetensors"
    # The same file, moved, not epoch 1 trained and written again.
    assert kept.read_bytes() == first_bytes and kept.stat().st_ino == first_inode


def toy_config(**training):
    import yaml

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["variants"]["full"]["training"] = training
    return config


def validated(config):
    from snakemake.utils import validate

    from taxfree.config.schema import SCHEMA_PATH

    validate(config, str(SCHEMA_PATH))
    return config


def test_the_knob_is_checked_at_config_time():
    _, variants = resolve_config(validated(toy_config(evaluate_checkpoints=["toy_harmful"])))
    assert epochs_evaluated(variants["full"].spec) == [1, 2, 3, 4, 5]
    assert epochs_evaluated(variants["lora_r8_all_reg"].spec) == []
    with pytest.raises(ConfigError, match=r"variants\.full\.training\.evaluate_checkpoints.*unknown benchmark.*nope"):
        resolve_config(validated(toy_config(evaluate_checkpoints=["nope"])))
    with pytest.raises(ConfigError, match=r"variants\.full\.training\.evaluate_checkpoints.*whole number"):
        resolve_config(validated(toy_config(evaluate_checkpoints=["toy_harmful"], num_train_epochs=2.5)))


def test_default_run_plans_the_epoch_jobs():
    import re
    import subprocess
    import sys

    # --forceall: plan every job whatever a local run has already made.
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-n", "-p", "--forceall"], cwd=REPO, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", proc.stdout, flags=re.M))
    # full and lora_r1_up, 5 epochs each, on toy_reasoning and toy_harmful: one generate job per epoch but the
    # last, whose model is the final one.
    assert counts["align_epochs"] == "2" and counts["generate_epoch"] == "8" and counts["score_epoch"] == "16"
    assert counts["figure_epochs"] == "1"
    assert "--epochs-dir results/seed0/toy/full/epochs" in proc.stdout
    assert "output: results/seed0/toy/lora_r1_up/by_epoch/3/scores/toy_harmful.jsonl" in proc.stdout
    # Epoch 0 is the model a variant starts from: the base model's ordinary scores, no extra job.
    inputs = re.search(r"rule aggregate_epochs:\n    input: (.*)", proc.stdout).group(1).split(", ")
    assert "results/seed0/toy/base/scores/toy_harmful.jsonl" in inputs and len(inputs) == 2 * 2 * (5 + 1)
    assert "results/seed0/toy/full/scores/toy_harmful.jsonl" in inputs
    assert "results/seed0/toy/full/by_epoch/5/scores/toy_harmful.jsonl" not in inputs


def scored(path, values):
    write_jsonl(path, [{"prompt_id": i, "sample": 0, "refusal": v, "n_response_tokens": 4, "n_reasoning_tokens": 2,
                        "truncated": False} for i, v in enumerate(values)])
    return path


def test_epoch_table_and_figure(tmp_path):
    bench = {"toy_harmful": {"judge": "refusal", "category": "safety", "pass_at_k": [], "num_samples": 1}}
    prompts = tmp_path / "prompts.jsonl"
    write_jsonl(prompts, [{"prompt_id": i, "prompt": "p", "sample": 0, "seed": 0} for i in range(4)])
    entries = [{"seed": 0, "model": "toy", "variant": v, "epoch": e, "benchmark": "toy_harmful", "prompts": prompts,
                "path": scored(tmp_path / f"{v}{e}.jsonl", [1] * (e + k) + [0] * (4 - e - k))}
               for k, v in enumerate(["full", "lora"]) for e in (1, 2)]
    table = summarise_epochs(entries, bench)
    assert list(table.columns[:5]) == ["model", "variant", "seed", "epoch", "benchmark"]
    rate = table[table["metric"] == "refusal_rate"].set_index(["variant", "epoch"])["value"]
    assert rate[("full", 1)] == 0.25 and rate[("full", 2)] == 0.5 and rate[("lora", 2)] == 0.75
    assert not math.isnan(table["ci_low"].iloc[0])
    png = tmp_path / "epochs.png"
    epochs_figure(table, {"full": "full", "lora": "lora"}, [png, tmp_path / "epochs.pdf"])
    assert Image.open(png).size[0] > 400 and (tmp_path / "epochs.pdf").stat().st_size > 0
    assert len(table) == 2 * 2 * 3  # refusal_rate, response and reasoning tokens
