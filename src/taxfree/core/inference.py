"""Generation: batched Hugging Face ``generate`` (left padding, length-sorted batches, KV cache) or vLLM.

Every row carries its own ``seed`` (one row per sample, see ``taxfree.data.benchmarks``); rows that
share a seed are generated together after seeding, so a sample is reproducible on its own.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from taxfree.core.errors import InputError
from taxfree.core.io import read_jsonl, write_jsonl
from taxfree.core.models import is_adapter, load_model, load_tokenizer
from taxfree.core.reasoning import final_answer, reasoning, recorded_response, truncated

BACKENDS = ("hf", "vllm")


def chat_prompt(tokenizer: Any, prompt: str) -> str:
    return tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                         add_generation_prompt=True)


class PromptTooLong(InputError):
    """Prompts longer than the model's context; ``generate_file`` names the benchmark file."""


def check_prompt_lengths(rows: list[dict[str, Any]], tokenizer: Any, context: int | None) -> None:
    """Fail, naming the rows, when a chat-templated prompt is longer than the model's context (``context``;
    None: unknown, the backend's own limit applies): generating from it would cut it or run past the
    positions the model was trained on, and its score would mean nothing. An error rather than a flagged
    row, since a benchmark scored on part of its prompts is not that benchmark."""
    if context is None:
        return
    lengths: dict[str, int] = {}
    for row in rows:
        if row["prompt"] not in lengths:
            text = chat_prompt(tokenizer, row["prompt"])
            lengths[row["prompt"]] = len(tokenizer(text, add_special_tokens=False)["input_ids"])
    long = [i for i, row in enumerate(rows, start=1) if lengths[row["prompt"]] > context]
    if long:
        shown = ", ".join(map(str, long[:10])) + (", ..." if len(long) > 10 else "")
        raise PromptTooLong(f"{len(long)} of {len(rows)} rows have a prompt longer than the model's context of "
                            f"{context} tokens (the longest has {max(lengths.values())}): rows {shown}")


def reasoning_tokens(tokenizer: Any, response: str) -> int:
    """Tokens of the response's reasoning block (its text, without the tags): the overhead of thinking."""
    text = reasoning(response)
    return len(tokenizer(text, add_special_tokens=False)["input_ids"]) if text else 0


def generate_texts(model: Any, tokenizer: Any, texts: list[str], max_new_tokens: int, temperature: float,
                   top_p: float, batch_size: int, seed: int) -> list[dict[str, Any]]:
    """One continuation per already-templated text, in input order: ``response`` (recorded with the reasoning
    opener the text ended with, see ``recorded_response``) and token counts."""
    lengths = [len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
    # Sorting by length keeps padding, and so wasted compute, small within each batch.
    order = sorted(range(len(texts)), key=lambda i: lengths[i])
    sampling = {"do_sample": True, "temperature": temperature, "top_p": top_p} if temperature > 0 \
        else {"do_sample": False}
    torch.manual_seed(seed)
    results: list[dict[str, Any]] = [{} for _ in texts]
    for start in tqdm(range(0, len(order), batch_size), desc=f"generate (seed {seed})", unit="batch"):
        batch = order[start:start + batch_size]
        enc = tokenizer([texts[i] for i in batch], return_tensors="pt", padding=True,
                        add_special_tokens=False).to(model.device)
        with torch.inference_mode():
            out = model.generate(**enc, max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                                 **sampling)
        new_tokens = out[:, enc["input_ids"].shape[1]:]
        for i, tokens in zip(batch, new_tokens):
            response = recorded_response(texts[i], tokenizer.decode(tokens, skip_special_tokens=True))
            results[i] = {"response": response, "n_prompt_tokens": lengths[i],
                          "n_response_tokens": int((tokens != tokenizer.pad_token_id).sum()),
                          "n_reasoning_tokens": reasoning_tokens(tokenizer, response)}
    return results


def load_for_inference(model_dir: str | Path, load: dict[str, Any] | None = None) -> tuple[Any, Any]:
    """(model, left-padding tokenizer), the model in eval mode and on the GPU when there is one; ``load``
    holds load_model's options (dtype, attn_implementation, trust_remote_code)."""
    load = load or {}
    tokenizer = load_tokenizer(model_dir, load.get("trust_remote_code", False), padding_side="left")
    model = load_model(model_dir, **load).eval()
    return model.to("cuda") if torch.cuda.is_available() else model, tokenizer


def by_seed(rows: list[dict[str, Any]]) -> dict[int, list[int]]:
    """Row indices grouped by their ``seed``."""
    groups: dict[int, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        groups[row["seed"]].append(i)
    return groups


def hf_responses(model: Any, tokenizer: Any, rows: list[dict[str, Any]], max_new_tokens: int, temperature: float,
                 top_p: float, batch_size: int) -> list[dict[str, Any]]:
    """Batched HF ``generate`` with a loaded model (see ``load_for_inference``), one result per row in order."""
    check_prompt_lengths(rows, tokenizer, getattr(model.config.get_text_config(), "max_position_embeddings", None))
    results: list[dict[str, Any]] = [{} for _ in rows]
    for seed, indices in by_seed(rows).items():
        texts = [chat_prompt(tokenizer, rows[i]["prompt"]) for i in indices]
        for i, result in zip(indices, generate_texts(model, tokenizer, texts, max_new_tokens, temperature, top_p,
                                                     batch_size, seed)):
            results[i] = result
    return results


def generate_hf(model_dir: str | Path, rows: list[dict[str, Any]], max_new_tokens: int, temperature: float,
                top_p: float, batch_size: int, load: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Batched HF ``generate`` of a model directory."""
    model, tokenizer = load_for_inference(model_dir, load)
    return hf_responses(model, tokenizer, rows, max_new_tokens, temperature, top_p, batch_size)


def vllm_requests(model_dir: str | Path, rows: list[dict[str, Any]], max_new_tokens: int, temperature: float,
                  top_p: float, vllm: Any, engine: dict[str, Any] | None = None,
                  load: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[Any], Any]:
    """(``vllm.LLM`` arguments, one ``SamplingParams`` per row with its seed, the ``LoRARequest`` or None).

    ``engine`` holds the engine settings (tensor_parallel_size, max_model_len, gpu_memory_utilization,
    dtype; see taxfree.core.resources.vllm_engine), passed as they are; ``load`` the model's load options,
    of which vLLM takes trust_remote_code. A LoRA adapter is served on its base model with
    ``enable_lora`` rather than merged on disk.
    """
    load = load or {}
    llm_args: dict[str, Any] = {"model": str(model_dir)}
    lora = None
    if is_adapter(model_dir):
        adapter = json.loads((Path(model_dir) / "adapter_config.json").read_text())
        base = adapter["base_model_name_or_path"]
        if is_adapter(base):
            raise ValueError(f"{model_dir}: vLLM serves one adapter on a plain model, but this one was trained on "
                             f"another adapter ({base}); generate it with backend hf")
        # vLLM accepts only some maximum ranks (8, 16, 32, ...); the adapter's rank may be any up to it.
        max_rank = max(8, 1 << (adapter["r"] - 1).bit_length())
        llm_args = {"model": base, "enable_lora": True, "max_lora_rank": max_rank, "tokenizer": str(model_dir)}
        lora = vllm.lora.request.LoRARequest("adapter", 1, str(model_dir))
    llm_args.update(engine or {}, trust_remote_code=load.get("trust_remote_code", False))
    params = [vllm.SamplingParams(n=1, seed=row["seed"], temperature=temperature, top_p=top_p,
                                  max_tokens=max_new_tokens) for row in rows]
    return llm_args, params, lora


def generate_vllm(model_dir: str | Path, rows: list[dict[str, Any]], max_new_tokens: int, temperature: float,
                  top_p: float, batch_size: int, load: dict[str, Any] | None = None,
                  engine: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The same rows through vLLM (which batches by itself, so ``batch_size`` is unused); ``engine`` holds the
    engine's settings. ``llm.chat`` renders the chat template itself; the prompt is rendered here too, to know
    whether it opened the reasoning block."""
    import vllm  # optional: installed on GPU machines only
    import vllm.lora.request

    llm_args, params, lora = vllm_requests(model_dir, rows, max_new_tokens, temperature, top_p, vllm, engine, load)
    llm = vllm.LLM(**llm_args)
    check_prompt_lengths(rows, llm.get_tokenizer(), llm_args.get("max_model_len"))
    messages = [[{"role": "user", "content": row["prompt"]}] for row in rows]
    outputs = llm.chat(messages, params, lora_request=lora)
    tokenizer = llm.get_tokenizer()
    responses = [recorded_response(chat_prompt(tokenizer, row["prompt"]), out.outputs[0].text)
                 for row, out in zip(rows, outputs, strict=True)]
    return [{"response": response, "n_prompt_tokens": len(out.prompt_token_ids),
             "n_response_tokens": len(out.outputs[0].token_ids),
             "n_reasoning_tokens": reasoning_tokens(tokenizer, response)} for response, out in zip(responses, outputs)]


def generate_files(model_dir: str | Path, files: list[tuple[str | Path, str | Path, dict[str, Any]]],
                   load: dict[str, Any] | None = None) -> None:
    """Generate several benchmarks with one model: ``files`` holds (benchmark JSONL, output JSONL, settings), the
    settings being ``generate_file``'s (max_new_tokens, temperature, top_p, batch_size, and optionally backend
    and vllm). The HF backend loads the model once for every file, which on small models is most of a file's
    cost; vLLM builds one engine per file, since each benchmark's engine settings are its own."""
    hf_model = None
    for in_path, out_path, settings in files:
        settings = dict(settings)
        backend, engine = settings.pop("backend", "hf"), settings.pop("vllm", None)
        if backend not in BACKENDS:
            raise ValueError(f"{in_path}: unknown generation backend {backend!r}; expected one of {BACKENDS}")
        rows = read_jsonl(in_path, required=("prompt", "seed"), text=("prompt",))
        try:
            if backend == "hf":
                hf_model = hf_model or load_for_inference(model_dir, load)
                responses = hf_responses(*hf_model, rows, **settings)
            else:
                responses = generate_vllm(model_dir, rows, load=load, engine=engine, **settings)
        except PromptTooLong as err:
            raise InputError(f"{in_path}: {err}") from None
        write_jsonl(out_path, ({**row, **resp, "final_answer": final_answer(resp["response"]),
                                "truncated": truncated(resp["response"])} for row, resp in zip(rows, responses)))


def generate_file(model_dir: str | Path, in_path: str | Path, out_path: str | Path, max_new_tokens: int,
                  temperature: float, top_p: float, batch_size: int, backend: str = "hf",
                  load: dict[str, Any] | None = None, vllm: dict[str, Any] | None = None) -> None:
    """Generate for every row of a benchmark JSONL (fields ``prompt`` and ``seed``); rows keep their other
    fields and gain ``response``, ``final_answer`` (after the reasoning block; empty when it never closed),
    ``truncated`` (the reasoning block was opened and never closed: cut off at ``max_new_tokens``) and token
    counts (prompt, response, and the reasoning block's). ``load``: the model's load options; ``vllm``: the
    vLLM engine's settings (backend vllm). A prompt longer than the model's context fails naming the file and
    its rows (``check_prompt_lengths``)."""
    settings = {"max_new_tokens": max_new_tokens, "temperature": temperature, "top_p": top_p,
                "batch_size": batch_size, "backend": backend, "vllm": vllm}
    generate_files(model_dir, [(in_path, out_path, settings)], load)
