"""Training data: any source (local file or hub) to prompt/completion rows, then to the model's own format.

``prepare`` turns a dataset spec into canonical rows in TRL's conversational format
(``prompt`` and ``completion`` message lists), saved as JSONL by the prepare_dataset rule.
``load_sft_dataset`` renders them with the model's chat template as *text* prompt and
completion: R1-style templates drop the reasoning block from assistant messages, so
rendering the completion through the template would silently lose the ``<think>`` part.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

import pandas as pd

from taxfree.core.errors import InputError
from taxfree.core.io import read_jsonl
from taxfree.core.reasoning import THINK_OPEN, reasoning_opener

log = logging.getLogger(__name__)


def _check_messages(source: str, lineno: int, field: str, value: Any) -> None:
    if not (isinstance(value, list) and value and all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
            for m in value)):
        raise InputError(f"{source}: row {lineno}: field '{field}' must be a non-empty list of "
                         "{'role': str, 'content': str} messages")


def _chat(prompt: str, completion: str) -> dict[str, Any]:
    return {"prompt": [{"role": "user", "content": prompt}],
            "completion": [{"role": "assistant", "content": completion}]}


def read_table(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a local .jsonl, .json, .csv or .parquet file."""
    suffix = Path(path).suffix.lower()
    if suffix == ".jsonl":
        return read_jsonl(path)
    if suffix in (".csv", ".parquet", ".json"):
        reader = {".csv": pd.read_csv, ".parquet": pd.read_parquet, ".json": pd.read_json}[suffix]
        return reader(path).to_dict(orient="records")
    raise InputError(f"{path}: unsupported file type '{suffix}' (use .jsonl, .json, .csv or .parquet)")


def load_rows(spec: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """(name of the source for error messages, its rows)."""
    if "path" in spec:
        return spec["path"], read_table(spec["path"])
    from datasets import load_dataset  # heavy: only hub sources need it

    source = f"{spec['hub']} (split {spec['split']})"
    return source, load_dataset(spec["hub"], spec.get("hub_config"), split=spec["split"],
                                revision=spec["revision"]).to_list()


def require_text(source: str, lineno: int, row: dict[str, Any], column: str) -> str:
    if column not in row:
        raise InputError(f"{source}: row {lineno}: missing column '{column}' (has: {', '.join(row)})")
    value = row[column]
    if not isinstance(value, str):
        raise InputError(f"{source}: row {lineno}: column '{column}' must be text, got {type(value).__name__}")
    return value


def direct_refusal_response(source: str, lineno: int, refusal: str) -> str:
    """DirectRefusal's ``refusal`` is "Question: ...\\nAnswer: ..."; the response follows the first "Answer:"."""
    if "Answer:" not in refusal:
        raise InputError(f"{source}: row {lineno}: column 'refusal' has no 'Answer:'")
    return refusal.split("Answer:", 1)[1].strip()


def safechain_completion(response: str) -> str | None:
    """SafeChain's ``response`` is reasoning, ``</think>``, answer; None when it has no ``</think>``."""
    thinking, marker, answer = response.partition("</think>")
    if not marker:
        return None
    return f"<think>\n{thinking.strip().removeprefix('<think>').strip()}\n</think>\n\n{answer.strip()}"


def to_chat_rows(source: str, rows: list[dict[str, Any]], spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Canonical prompt/completion message rows from rows in the spec's format."""
    out, skipped = [], 0
    for lineno, row in enumerate(rows, start=1):
        if spec["format"] == "chat":
            for field in ("prompt", "completion"):
                _check_messages(source, lineno, field, row.get(field))
            out.append({"prompt": row["prompt"], "completion": row["completion"]})
        elif spec["format"] == "direct_refusal":
            response = direct_refusal_response(source, lineno, require_text(source, lineno, row, "refusal"))
            out.append(_chat(require_text(source, lineno, row, "prompt"), spec["think_prefix"] + response))
        elif spec["format"] == "safechain":
            completion = safechain_completion(require_text(source, lineno, row, "response"))
            if completion is None:
                skipped += 1
                continue
            out.append(_chat(require_text(source, lineno, row, "instruction"), completion))
        else:
            columns = spec["columns"]
            out.append(_chat(require_text(source, lineno, row, columns["prompt"]),
                             require_text(source, lineno, row, columns["completion"])))
    if skipped:
        log.warning("%s: skipped %d of %d rows whose response has no </think>", source, skipped, len(rows))
    if not out:
        raise InputError(f"{source}: no rows")
    return out


def prepare(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """A dataset spec (see the schema's ``dataset``) to canonical prompt/completion rows."""
    source, rows = load_rows(spec)
    return to_chat_rows(source, rows[: spec["max_rows"]] if spec["max_rows"] else rows, spec)


def mix_rows(rows: list[dict[str, Any]], extra: list[dict[str, Any]], fraction: float,
             seed: int) -> list[dict[str, Any]]:
    """``rows`` with distinct rows of ``extra`` added so that they make up ``fraction`` of the result, shuffled."""
    n_extra = round(fraction * len(rows) / (1 - fraction))
    if n_extra > len(extra):
        raise InputError(f"mix: {n_extra} rows wanted ({fraction:.0%} of the mixed set) but the mixed-in data set "
                         f"has only {len(extra)}")
    rng = random.Random(seed)
    mixed = rows + rng.sample(extra, n_extra)
    rng.shuffle(mixed)
    return mixed


def load_sft_rows(path: str | Path) -> list[dict[str, Any]]:
    """Canonical rows from a prepared JSONL, checked."""
    return to_chat_rows(str(path), read_jsonl(path), {"format": "chat"})


def render(row: dict[str, Any], tokenizer: Any) -> dict[str, str]:
    """Text prompt (the model's chat template up to the assistant turn) and text completion."""
    prompt = tokenizer.apply_chat_template(row["prompt"], tokenize=False, add_generation_prompt=True)
    completion = "".join(m["content"] for m in row["completion"])
    # Templates that open the reasoning block in the generation prompt (newer R1 ones) must
    # not get a second <think> from the completion.
    if reasoning_opener(prompt) and completion.lstrip().startswith(THINK_OPEN):
        completion = completion.lstrip().removeprefix(THINK_OPEN).lstrip("\n")
    return {"prompt": prompt, "completion": completion}


def n_tokens(rendered: dict[str, str], tokenizer: Any) -> int:
    """Tokens TRL's SFTTrainer makes of a rendered row: prompt and completion as one text, then an EOS
    token if the completion does not end with one."""
    text = rendered["prompt"] + rendered["completion"]
    eos = tokenizer.eos_token is not None and not text.endswith(tokenizer.eos_token)
    return len(tokenizer(text)["input_ids"]) + eos


def fitting_rows(path: str | Path, rendered: list[dict[str, str]], tokenizer: Any, max_length: int,
                 max_overlong_fraction: float) -> list[dict[str, str]]:
    """The rows of at most ``max_length`` tokens. Longer ones are dropped, not truncated (TRL would keep a
    cut completion, or silently drop a row whose prompt fills ``max_length``), and counted in the log;
    a larger share of them than ``max_overlong_fraction``, or none left, fails naming the file."""
    lengths = [n_tokens(row, tokenizer) for row in rendered]
    kept = [row for row, n in zip(rendered, lengths) if n <= max_length]
    overlong = len(rendered) - len(kept)
    if not overlong:
        return kept
    summary = (f"{path}: {overlong} of {len(rendered)} rows are longer than training.max_length ({max_length} tokens; "
               f"the longest has {max(lengths)})")
    if not kept:
        raise InputError(f"{summary}: no row is left to train on; raise max_length or shorten the data")
    if overlong > max_overlong_fraction * len(rendered):
        raise InputError(f"{summary}, more than training.max_overlong_fraction ({max_overlong_fraction:g}) allows; "
                         "raise max_length, or that share to train on the rest")
    log.warning("%s; dropped", summary)
    return kept


def load_sft_dataset(path: str | Path, tokenizer: Any, max_length: int, max_overlong_fraction: float) -> Any:
    """The prepared rows rendered for SFTTrainer, those longer than ``max_length`` tokens dropped (``fitting_rows``)."""
    from datasets import Dataset  # heavy: only training needs it

    rendered = [render(row, tokenizer) for row in load_sft_rows(path)]
    return Dataset.from_list(fitting_rows(path, rendered, tokenizer, max_length, max_overlong_fraction))
