"""Throughput of batched against one-at-a-time HF generation on the toy evaluation prompts; prints JSON.

Uses the toy model's architecture with fresh weights and a fixed number of new tokens, so
both modes generate the same amount of text (greedy, no early stop decides the comparison).
Pass --model to time a trained model directory instead.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from taxfree.core.inference import chat_prompt, generate_texts
from taxfree.core.models import load_model, load_tokenizer
from taxfree.data.toyworld import ToyWorldSpec, generate, save_initial_model


def timed(model, tokenizer, prompts: list[str], batch_size: int, max_new_tokens: int) -> float:
    start = time.perf_counter()
    texts = [chat_prompt(tokenizer, p) for p in prompts]
    generate_texts(model, tokenizer, texts, max_new_tokens, temperature=0.0, top_p=1.0, batch_size=batch_size, seed=0)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, help="model directory (default: a fresh toy model)")
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    splits = generate(ToyWorldSpec(seed=0, n_reasoning_train=100, n_reasoning_eval=args.prompts,
                                   n_requests_per_topic=1, n_eval_per_split=10, n_refusal_train=10,
                                   heldout_topic_fraction=0.25, min_ops=3, max_ops=4))
    model_dir = args.model
    if model_dir is None:
        model_dir = Path(tempfile.mkdtemp(prefix="taxfree-generation-")) / "toy"
        save_initial_model(model_dir, splits, hidden_size=256, num_layers=4, intermediate_size=512, num_heads=4,
                           seed=0)
    model, tokenizer = load_model(model_dir).eval(), load_tokenizer(model_dir, padding_side="left")
    prompts = [row["prompt"] for row in splits["toy_reasoning"]]
    # One-token-budget warm-up so neither mode pays for first-call setup.
    timed(model, tokenizer, prompts[:2], 2, 1)
    batched = timed(model, tokenizer, prompts, args.batch_size, args.max_new_tokens)
    single = timed(model, tokenizer, prompts, 1, args.max_new_tokens)
    print(json.dumps({"benchmark": "generation", "prompts": len(prompts), "max_new_tokens": args.max_new_tokens,
                      "batch_size": args.batch_size, "threads": args.threads,
                      "batched_prompts_per_s": round(len(prompts) / batched, 2),
                      "single_prompts_per_s": round(len(prompts) / single, 2),
                      "speedup": round(single / batched, 2)}))


if __name__ == "__main__":
    main()
