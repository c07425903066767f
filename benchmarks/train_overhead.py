"""Training-step time of taxfree's training against a bare TRL SFTTrainer, and the bf16 speed-up.

Both train the toy model (default architecture) on the same toy pretraining rows with the
same settings; prints JSON. ``ratio`` = our seconds per step / bare TRL's (target <= 1.05).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch

from taxfree.config.schema import training_defaults
from taxfree.core.io import write_jsonl
from taxfree.core.models import load_model, load_tokenizer
from taxfree.data.toyworld import ToyWorldSpec, generate, save_initial_model
from taxfree.training.methods.sft import sft_arguments
from taxfree.training.trainer import train


def training(precision: str, batch: int) -> dict:
    defaults = training_defaults()
    return {**defaults, "learning_rate": 1e-3, "num_train_epochs": 1, "per_device_train_batch_size": batch,
            "max_length": 128, "precision": precision, "seed": 0, "logging_steps": 10_000, "save_strategy": "no",
            "warmup_steps": 0}


def ours(base: Path, data: Path, work: Path, spec: dict) -> float:
    metrics = train(base, data, {"method": "full", "training": spec}, work / "ours", work / "ckpt")
    return metrics["train_runtime"] / metrics["log_history"][-1]["step"]


def bare_trl(base: Path, rows: list[dict], work: Path, spec: dict) -> float:
    from datasets import Dataset
    from trl import SFTTrainer

    trainer = SFTTrainer(model=load_model(base, dtype="float32"), args=sft_arguments(spec, work / "bare"),
                         train_dataset=Dataset.from_list(rows), processing_class=load_tokenizer(base))
    result = trainer.train()
    return result.metrics["train_runtime"] / trainer.state.global_step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1600, help="training rows (steps = rows / batch)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="taxfree-train-overhead-"))
    splits = generate(ToyWorldSpec(seed=0, n_reasoning_train=args.rows, n_reasoning_eval=10, n_requests_per_topic=1,
                                   n_eval_per_split=10, n_refusal_train=10, heldout_topic_fraction=0.25,
                                   min_ops=3, max_ops=4))
    rows = splits["pretrain"][: args.rows]
    write_jsonl(work / "data.jsonl", rows)
    save_initial_model(work / "base", splits, hidden_size=256, num_layers=4, intermediate_size=512, num_heads=4,
                       seed=0)
    spec = training("bf16", args.batch)
    bare = bare_trl(work / "base", rows, work, spec)
    ours_bf16 = ours(work / "base", work / "data.jsonl", work, spec)
    ours_fp32 = ours(work / "base", work / "data.jsonl", work, training("fp32", args.batch))
    print(json.dumps({"benchmark": "train_overhead", "steps": args.rows // args.batch, "batch": args.batch,
                      "threads": args.threads, "bare_trl_s_per_step": round(bare, 4),
                      "taxfree_s_per_step": round(ours_bf16, 4), "ratio": round(ours_bf16 / bare, 3),
                      "taxfree_fp32_s_per_step": round(ours_fp32, 4), "bf16_speedup": round(ours_fp32 / ours_bf16, 2)}))


if __name__ == "__main__":
    main()
