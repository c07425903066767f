"""Training-time overhead of the overlap regularizer on the toy: LoRA with and without it.

Both train the toy model (default architecture) on the same refusal rows with the same
LoRA (rank 8 on every linear module) through taxfree's training; the regularized run adds
the column penalty on gate/up/down. Prints JSON: ``ratio`` = regularized seconds per step
/ plain, best of ``--repeats`` interleaved runs each (target <= 1.20); ``penalty_s_per_step``
is the penalty's forward and backward timed alone (compare with ``plain_s_per_step``);
``svd_s`` is the one-off randomized SVD of the penalised base weights (cached on disk
afterwards, not part of the steps).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
from train_overhead import training

from taxfree.analysis.geometry import top_subspace
from taxfree.core.io import write_jsonl
from taxfree.core.models import load_model
from taxfree.data.toyworld import ToyWorldSpec, generate, save_initial_model
from taxfree.training.trainer import train

LORA = {"rank": 8, "alpha": 16, "dropout": 0.05, "target_modules": ["all"], "bias": "none", "layers": None}
REGULARIZER = {"kind": "column", "norm": False, "target_modules": ["gate_proj", "up_proj", "down_proj"], "beta": 1e-3,
               "k": 16}


def seconds_per_step(base: Path, data: Path, out: Path, spec: dict) -> float:
    metrics = train(base, data, spec, out / "model", out / "ckpt")
    return metrics["train_runtime"] / metrics["log_history"][-1]["step"]


def penalty_seconds(base: Path, calls: int = 100) -> float:
    """The penalty's forward and backward alone, per call: the overhead free of the machine's noise."""
    from peft import get_peft_model
    from peft.tuners.lora import LoraLayer

    from taxfree.training.methods.regularizer.trainer import overlap_penalty
    from taxfree.training.methods.sft import lora_config

    model = load_model(base, dtype="float32")
    model = get_peft_model(model, lora_config(model, LORA))
    targets = [(m.lora_B["default"].weight, m.lora_A["default"].weight, top_subspace(m.get_base_layer().weight,
                                                                                       REGULARIZER["k"]))
               for name, m in model.named_modules()
               if isinstance(m, LoraLayer) and name.rsplit(".", 1)[-1] in REGULARIZER["target_modules"]]
    start = time.perf_counter()
    for _ in range(calls):
        sum(overlap_penalty(B, A, sub, REGULARIZER["kind"]) for B, A, sub in targets).backward()
    return (time.perf_counter() - start) / calls


def svd_seconds(base: Path, k: int, modules: list[str]) -> float:
    start = time.perf_counter()
    for name, module in load_model(base, dtype="float32").named_modules():
        if name.rsplit(".", 1)[-1] in modules:
            top_subspace(module.weight, k)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=480, help="refusal rows (steps = rows / batch)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--precision", default="bf16", choices=["bf16", "fp32"])
    parser.add_argument("--repeats", type=int, default=3, help="runs of each; the fastest counts")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="taxfree-regularizer-overhead-"))
    splits = generate(ToyWorldSpec(seed=0, n_reasoning_train=100, n_reasoning_eval=10, n_requests_per_topic=1,
                                   n_eval_per_split=10, n_refusal_train=args.rows, heldout_topic_fraction=0.25,
                                   min_ops=3, max_ops=4))
    write_jsonl(work / "data.jsonl", splits["refusal"])
    save_initial_model(work / "base", splits, hidden_size=256, num_layers=4, intermediate_size=512, num_heads=4,
                       seed=0)
    spec = {"method": "lora", "training": training(args.precision, args.batch), "lora": LORA}
    regularized = {**spec, "regularizer": {**REGULARIZER, "svd_cache": str(work / "svd")}}
    # Interleaved repeats, best of each: the machine's load drifts between runs.
    plain_s = reg_s = float("inf")
    for _ in range(args.repeats):
        plain_s = min(plain_s, seconds_per_step(work / "base", work / "data.jsonl", work / "plain", spec))
        reg_s = min(reg_s, seconds_per_step(work / "base", work / "data.jsonl", work / "reg", regularized))
    print(json.dumps({"benchmark": "regularizer_overhead", "steps": args.rows // args.batch, "batch": args.batch,
                      "threads": args.threads, "repeats": args.repeats, "precision": args.precision, "lora_rank": LORA["rank"],
                      "regularizer": REGULARIZER, "plain_s_per_step": round(plain_s, 4),
                      "regularized_s_per_step": round(reg_s, 4), "ratio": round(reg_s / plain_s, 3),
                      "penalty_s_per_step": round(penalty_seconds(work / "base"), 5),
                      "svd_s": round(svd_seconds(work / "base", REGULARIZER["k"], REGULARIZER["target_modules"]), 3)}))


if __name__ == "__main__":
    main()
