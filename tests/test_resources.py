"""Resource estimates from a model's size (taxfree.core.resources), `taxfree plan` on the paper grid, and the
model's own dtype kept through training and merging."""

import json
import re
import subprocess
import sys

import pytest
import torch
from conftest import REPO

from taxfree.config.schema import training_defaults
from taxfree.core import resources
from taxfree.core.io import write_jsonl
from taxfree.core.models import load_model

H100 = resources.Hardware(gpu_memory_gb=80, peak_tflops=989, train_mfu=0.35, generate_mfu=0.1)
# The paper's training settings: batch 2 of 2048 tokens, 5 epochs (full) or 10 (LoRA), 1,000 rows.
TRAINING = {**training_defaults(), "num_train_epochs": 5}
QWEN2_7B = {"hidden_size": 3584, "num_hidden_layers": 28, "vocab_size": 152064, "num_attention_heads": 28,
            "num_key_value_heads": 4, "intermediate_size": 18944, "tie_word_embeddings": False}


def test_parameters_are_counted_from_config_json():
    assert resources.params_from_config(QWEN2_7B) == pytest.approx(7.615e9, rel=1e-3)
    qwen2_14b = {**QWEN2_7B, "hidden_size": 5120, "num_hidden_layers": 48, "num_attention_heads": 40,
                 "num_key_value_heads": 8, "intermediate_size": 13824}
    assert resources.params_from_config(qwen2_14b) == pytest.approx(14.77e9, rel=1e-3)


def test_full_fine_tuning_shards_over_the_fewest_gpus_that_fit():
    # 7.62B x 16 bytes = 121.9 GB of ZeRO-3 state; activations 34 x 4096 tokens x h L (146k) = 20.4 GB.
    full_7b = resources.training(7.62e9, "full", TRAINING, 1000, H100)
    assert full_7b.gpus == 4 and full_7b.gpu_memory_gb == pytest.approx(121.9 / 4 + 20.4 + 4, abs=0.2)
    # 6 N x 1000 rows x 5 epochs x 2048 tokens = 4.7e17 FLOPs at 35% of 989 TFLOP/s, plus loading and saving.
    assert full_7b.gpu_hours == pytest.approx(4 * (4.68e17 / (4 * 346e12) + 2 * 15.24 / 0.5) / 3600, rel=0.01)
    full_14b = resources.training(14.77e9, "full", TRAINING, 1000, H100)
    assert full_14b.gpus == 8 and full_14b.gpu_memory_gb == pytest.approx(236.3 / 8 + 31.7 + 4, abs=0.3)
    # Activation checkpointing (2 bytes instead of 34) halves the 14B's GPUs.
    checkpointed = resources.training(14.77e9, "full", {**TRAINING, "activation_checkpointing": True}, 1000, H100)
    assert checkpointed.gpus == 4 and checkpointed.gpu_memory_gb < 70


def test_lora_of_the_14b_fits_one_80gb_gpu():
    lora = {**TRAINING, "num_train_epochs": 10}
    r1 = resources.training(14.77e9, "lora", lora, 1000, H100, rank=1)
    # bf16 weights 29.5 GB + activations 31.7 GB + 4 GB; a rank-1 adapter's optimizer state is 0.08 GB.
    assert r1.gpus == 1 and r1.gpu_memory_gb == pytest.approx(29.5 + 31.7 + 4 + 0.1, abs=0.3)
    r64 = resources.training(14.77e9, "lora", lora, 1000, H100, rank=64)
    assert r64.gpus == 1 and r64.fits and r64.gpu_memory_gb == pytest.approx(r1.gpu_memory_gb + 5.2, abs=0.2)
    assert r64.disk_gb == pytest.approx(3.5e-4 * 64 * 14.77e9 * 4 / 1e9, rel=0.01)
    seven = resources.training(7.62e9, "lora", lora, 1000, H100, rank=16)
    assert seven.gpus == 1 and seven.gpu_memory_gb == pytest.approx(15.2 + 0.7 + 20.4 + 4, abs=0.3)
    assert not resources.training(14.77e9, "lora", lora, 1000, resources.Hardware(40, 989, 0.35, 0.1), rank=1).fits


def test_without_gpus_every_job_runs_on_cpus():
    cpu = resources.Hardware(None, 989, 0.35, 0.1)
    estimate = resources.training(3e6, "full", TRAINING, 480, cpu)
    assert (estimate.gpus, estimate.gpu_memory_gb, estimate.gpu_hours, estimate.fits) == (0, 0.0, 0.0, True)
    assert estimate.mem_mb == 8008  # the 8 GB base and 1.2 x 6 MB of bf16 weights


def benchmark(**overrides):
    vllm = {"tensor_parallel_size": None, "max_model_len": None, "gpu_memory_utilization": 0.9, "dtype": None}
    return {"backend": "vllm", "max_new_tokens": 32768, "num_samples": 8, "batch_size": 16, "vllm": vllm,
            **overrides}


def test_vllm_takes_as_many_gpus_as_the_model_needs():
    # 14.77B in bf16 = 29.5 GB + one 36,864-token sequence's KV (228k bytes/token = 8.4 GB) + 4 GB in 0.9 x 80.
    assert resources.generation(14.77e9, benchmark(), 4000, H100).gpus == 1
    small = resources.Hardware(24, 989, 0.35, 0.1)
    assert resources.generation(14.77e9, benchmark(), 4000, small).gpus == 4  # 29.5 / 2 + 8.4 + 4 > 21.6
    engine = resources.vllm_engine(benchmark(), "auto", 4)
    assert engine == {"tensor_parallel_size": 4, "max_model_len": 32768 + 4096, "gpu_memory_utilization": 0.9,
                      "dtype": "auto"}
    fixed = benchmark(vllm={**benchmark()["vllm"], "tensor_parallel_size": 2, "dtype": "bfloat16"})
    assert resources.vllm_engine(fixed, "auto", 4)["tensor_parallel_size"] == 2
    assert not resources.generation(14.77e9, fixed, 4000, small).fits
    # HF generate holds 16 sequences of 36,864 tokens: 86 GB of KV cache does not fit.
    assert not resources.generation(7.62e9, benchmark(backend="hf"), 4000, H100).fits


def plan(*args):
    return subprocess.run([sys.executable, "-m", "taxfree.cli", "plan", "--configfile",
                           str(REPO / "configs" / "paper.yaml"), *args], cwd=REPO, capture_output=True, text=True)


def test_plan_of_the_paper_grid_fits_80gb_gpus():
    proc = plan("--gpu-memory-gb", "80", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    jobs = {(j["rule"], j["model"], j["variant"], j["benchmark"]): j for j in summary["jobs"]}
    assert jobs["align_epochs", "r1_qwen_7b", "full", None]["gpus"] == 4
    assert jobs["align_epochs", "r1_qwen_14b", "full", None]["gpus"] == 8
    # Full fine-tuning that keeps each of its 5 epochs' models writes 6 models' worth (bf16 14.77B: 29.54 GB each).
    assert jobs["align_epochs", "r1_qwen_14b", "full", None]["disk_gb"] == pytest.approx(6 * 14.77 * 2,
                                                                                          rel=0.01)
    assert jobs["align", "r1_qwen_14b", "lora_all_r64", None]["gpus"] == 1
    assert jobs["score", "r1_qwen_7b", "base", "strongreject"]["gpus"] == 1  # Llama-Guard-3-8B
    assert jobs["score", "r1_qwen_7b", "base", "math500_extra"]["gpus"] == 0  # a grader
    counts = summary["totals"]["by_rule"]
    assert counts["align"]["jobs"] + counts["align_epochs"]["jobs"] == 2 * 23 + 1
    assert counts["generate"]["jobs"] == 2 * 30 + 1 and counts["generate_epoch"]["jobs"] == 2 * 4 + 2 * 9 + 9
    assert counts["fetch_model"] == {"jobs": 2, "gpu_hours": 0.0, "disk_gb": 44.8, "peak_gpu_memory_gb": 0.0}
    # The most memory a training job needs per GPU: rank-64 LoRA of the 14B (weights, activations, adapters).
    assert counts["align"]["peak_gpu_memory_gb"] == jobs["align", "r1_qwen_14b", "lora_all_r64", None]["gpu_memory_gb"]
    assert summary["totals"]["gpu_hours"] == pytest.approx(sum(j["gpu_hours"] for j in summary["jobs"]), abs=0.5)
    assert summary["totals"]["largest_gpu_memory_gb"]["gpu_memory_gb"] <= 80 and summary["cannot_fit"] == []


def test_plan_table_and_jobs_that_cannot_fit():
    table = plan("--format", "table")
    assert table.returncode == 0, table.stderr
    assert re.search(r"^align_epochs\s+r1_qwen_14b\s+full\s+8\s", table.stdout, flags=re.M)
    # fetch 2, train 47, merge 12, geometry 59, generate 61 and score 549, and 35 + 105 for the epochs.
    assert re.search(r"^total: 870 jobs, [\d.]+ GPU-hours", table.stdout, flags=re.M)
    small = plan("--gpu-memory-gb", "8", "--format", "json")
    assert small.returncode == 1
    assert "align_epochs/r1_qwen_14b/full does not fit on 8.0 GB GPUs" in small.stderr
    assert "align_epochs/r1_qwen_14b/full" in json.loads(small.stdout)["cannot_fit"]


def test_a_hub_model_without_a_size_is_named(tmp_path):
    import yaml

    config = yaml.safe_load((REPO / "configs" / "paper.yaml").read_text())
    del config["models"]["r1_qwen_7b"]["params_b"]
    (tmp_path / "paper.yaml").write_text(yaml.safe_dump(config))
    proc = subprocess.run([sys.executable, "-m", "taxfree.cli", "plan", "--configfile", str(tmp_path / "paper.yaml")],
                          cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 2 and "config key 'models.r1_qwen_7b.params_b'" in proc.stderr


def bf16_toy(path, tokenizer):
    from conftest import save_toy

    save_toy(path, tokenizer).to(torch.bfloat16).save_pretrained(path)
    assert json.loads((path / "config.json").read_text())["dtype"] == "bfloat16"


def test_a_bf16_model_stays_bf16_through_training_and_merging(tmp_path, toy_tokenizer, toy_splits):
    from taxfree.training.methods.merge.weights import merge_model
    from taxfree.training.trainer import train

    bf16_toy(tmp_path / "base", toy_tokenizer)
    write_jsonl(tmp_path / "data.jsonl", toy_splits["refusal"][:8])
    # With activation checkpointing on, as the paper grid may set it: the key passes through to TRL.
    training = {**training_defaults(), "num_train_epochs": 1, "max_length": 64, "precision": "fp32",
                "save_strategy": "no", "logging_steps": 1, "activation_checkpointing": True}
    torch.set_num_threads(1)
    metrics = train(tmp_path / "base", tmp_path / "data.jsonl", {"method": "full", "training": training},
                    tmp_path / "full", tmp_path / "ckpt")
    assert all(entry["grad_norm"] > 0 for entry in metrics["log_history"] if "grad_norm" in entry)
    merge_model(tmp_path / "base", tmp_path / "full", tmp_path / "merged",
                {"kind": "plain", "alpha": 0.5, "sides": "one", "k": 2, "svd_cache": str(tmp_path / "svd"),
                 "niter": 2, "oversample": 2})
    for name in ("full", "merged"):
        assert {p.dtype for p in load_model(tmp_path / name).parameters()} == {torch.bfloat16}, name
        assert json.loads((tmp_path / name / "config.json").read_text())["dtype"] == "bfloat16", name
    base = dict(load_model(tmp_path / "base").named_parameters())
    full = dict(load_model(tmp_path / "full").named_parameters())
    assert any(not torch.equal(base[n], full[n]) for n in base)  # it trained


def test_activation_checkpointing_is_a_training_key():
    from taxfree.training.methods.sft import sft_arguments

    assert training_defaults()["activation_checkpointing"] is False
    arguments = sft_arguments({**training_defaults(), "activation_checkpointing": True}, "/tmp/unused")
    assert arguments.activation_checkpointing is True


def test_the_toy_loads_in_its_own_fp32(toy_base):
    assert {p.dtype for p in load_model(toy_base).parameters()} == {torch.float32}
