"""Batched generation with Hugging Face ``generate``: left padding, length-sorted batches, KV cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from taxfree.io import read_jsonl, write_jsonl
from taxfree.judges import final_answer, reasoning
from taxfree.models import load_model, load_tokenizer


def chat_prompt(tokenizer: Any, prompt: str) -> str:
    return tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                         add_generation_prompt=True)


def reasoning_tokens(tokenizer: Any, response: str) -> int:
    """Tokens of the response's reasoning block (its text, without the tags): the overhead of thinking."""
    text = reasoning(response)
    return len(tokenizer(text, add_special_tokens=False)["input_ids"]) if text else 0


def generate_responses(model: Any, tokenizer: Any, prompts: list[str], max_new_tokens: int,
                       temperature: float, top_p: float, batch_size: int, seed: int) -> list[dict[str, Any]]:
    """One response per prompt, in input order, with token counts."""
    import torch
    from tqdm.auto import tqdm

    texts = [chat_prompt(tokenizer, p) for p in prompts]
    lengths = [len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
    # Sorting by length keeps padding, and so wasted compute, small within each batch.
    order = sorted(range(len(texts)), key=lambda i: lengths[i])
    sampling = {"do_sample": True, "temperature": temperature, "top_p": top_p} if temperature > 0 \
        else {"do_sample": False}
    torch.manual_seed(seed)
    results: list[dict[str, Any]] = [{} for _ in texts]
    for start in tqdm(range(0, len(order), batch_size), desc="generate", unit="batch"):
        batch = order[start:start + batch_size]
        enc = tokenizer([texts[i] for i in batch], return_tensors="pt", padding=True,
                        add_special_tokens=False).to(model.device)
        with torch.inference_mode():
            out = model.generate(**enc, max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                                 **sampling)
        new_tokens = out[:, enc["input_ids"].shape[1]:]
        for i, tokens in zip(batch, new_tokens):
            n = int((tokens != tokenizer.pad_token_id).sum())
            response = tokenizer.decode(tokens, skip_special_tokens=True)
            results[i] = {"response": response, "final_answer": final_answer(response),
                          "n_prompt_tokens": lengths[i], "n_response_tokens": n,
                          "n_reasoning_tokens": reasoning_tokens(tokenizer, response), "seed": seed}
    return results


def generate_file(model_dir: str | Path, in_path: str | Path, out_path: str | Path, max_new_tokens: int,
                  temperature: float, top_p: float, batch_size: int, seed: int,
                  trust_remote_code: bool = False) -> None:
    """Generate for every row of a benchmark JSONL (field ``prompt``); rows keep their other fields."""
    rows = read_jsonl(in_path, required=("prompt",))
    tokenizer = load_tokenizer(model_dir, trust_remote_code, padding_side="left")
    model = load_model(model_dir, trust_remote_code).eval()
    responses = generate_responses(model, tokenizer, [r["prompt"] for r in rows], max_new_tokens,
                                   temperature, top_p, batch_size, seed)
    write_jsonl(out_path, ({**row, **resp} for row, resp in zip(rows, responses)))
