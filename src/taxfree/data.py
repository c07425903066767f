"""Training data: prompt/completion rows in TRL's conversational format, checked on load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from taxfree.io import InputError, read_jsonl


def _check_messages(path: str | Path, lineno: int, field: str, value: Any) -> None:
    if not (isinstance(value, list) and value and all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
            for m in value)):
        raise InputError(f"{path}: row {lineno}: field '{field}' must be a non-empty list of "
                         "{'role': str, 'content': str} messages")


def load_sft_rows(path: str | Path) -> list[dict[str, Any]]:
    """Rows with ``prompt`` and ``completion`` message lists; other fields are dropped."""
    rows = read_jsonl(path, required=("prompt", "completion"))
    if not rows:
        raise InputError(f"{path}: no rows")
    for lineno, row in enumerate(rows, start=1):
        _check_messages(path, lineno, "prompt", row["prompt"])
        _check_messages(path, lineno, "completion", row["completion"])
    return [{"prompt": row["prompt"], "completion": row["completion"]} for row in rows]


def load_sft_dataset(path: str | Path) -> Any:
    from datasets import Dataset

    return Dataset.from_list(load_sft_rows(path))
