"""SaRO data from a teacher: sampled safety-reasoning candidates per prompt, and warmup traces from them.

A local Hugging Face model (hub id or directory) samples several completions for every
prompt through the same batched generation as evaluation. The candidates file is a
``candidates`` data set for the pair rules (method ``dpo``); the traces file (per prompt
the first correct candidate that reflects on safety, else the first correct one) is a
``chat`` data set for the reasoning-style warmup. Traces are not chosen for brevity: the
warmup teaches long safety reasoning, and shortening it is SaRO's separate variant.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from taxfree.core.inference import generate_hf
from taxfree.core.io import read_jsonl, write_jsonl
from taxfree.data.preferences import describe


def sample_candidates(model_dir: str | Path, rows: list[dict[str, Any]], samples: int, seed: int,
                      trust_remote_code: bool = False, **generation: Any) -> list[dict[str, Any]]:
    """``samples`` completions per row (``prompt``, ``harmful``), sample ``i`` generated with seed ``seed + i``."""
    requests = [{"prompt": row["prompt"], "seed": seed + i} for i in range(samples) for row in rows]
    responses = generate_hf(model_dir, requests, load={"trust_remote_code": trust_remote_code}, **generation)
    return [{"prompt": row["prompt"], "harmful": bool(row["harmful"]),
             "candidates": [responses[i * len(rows) + j]["response"] for i in range(samples)]}
            for j, row in enumerate(rows)]


def warmup_traces(candidates: list[dict[str, Any]], reflection_pattern: str) -> list[dict[str, Any]]:
    """Per prompt, in sampling order, the first correct candidate that reflects on safety, else the first correct
    one, as a prompt/completion row; prompts with no correct candidate are skipped."""
    pattern = re.compile(reflection_pattern)
    traces = []
    for row in candidates:
        correct = [c for c in (describe(t, pattern) for t in row["candidates"]) if c.correct(row["harmful"])]
        if correct:
            best = next((c for c in correct if any(c.reflects)), correct[0])
            traces.append({"prompt": [{"role": "user", "content": row["prompt"]}],
                           "completion": [{"role": "assistant", "content": best.text}]})
    return traces


def teacher_files(model_dir: str | Path, prompts: str | Path, candidates_out: str | Path, traces_out: str | Path,
                  samples: int, reflection_pattern: str, trust_remote_code: bool = False,
                  **generation: Any) -> None:
    """Sample candidates for a JSONL of ``prompt``/``harmful`` rows and write candidates and traces."""
    rows = read_jsonl(prompts, required=("prompt", "harmful"), text=("prompt",))
    candidates = sample_candidates(model_dir, rows, samples, trust_remote_code=trust_remote_code, **generation)
    write_jsonl(candidates_out, candidates)
    write_jsonl(traces_out, warmup_traces(candidates, reflection_pattern))
