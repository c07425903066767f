"""Evaluation sets: any source (local file or hub) to rows with ``prompt`` (and ``answer``) fields."""

from __future__ import annotations

from typing import Any

from taxfree.data import load_rows, require_text
from taxfree.io import InputError


def prepare_evalset(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of a benchmark spec (see the schema's ``benchmark``), filtered, templated and truncated.

    Each row keeps its source columns and gains ``prompt`` (the text sent to the model, built
    from ``prompt_template``), ``source_prompt`` and, for graded sets, ``answer`` as text.
    """
    source, rows = load_rows(spec)
    columns = spec["columns"]
    kept = [row for row in rows if all(row.get(key) == value for key, value in spec["where"].items())]
    if not kept:
        raise InputError(f"{source}: no rows left after filtering on {spec['where']}")
    out = []
    for lineno, row in enumerate(kept[: spec["max_rows"]] if spec["max_rows"] else kept, start=1):
        question = require_text(source, lineno, row, columns["prompt"])
        # replace, not str.format: templates hold LaTeX braces such as \boxed{}.
        prepared = {**row, "source_prompt": question, "prompt": spec["prompt_template"].replace("{prompt}", question)}
        if columns["answer"] is not None:
            if columns["answer"] not in row:
                raise InputError(f"{source}: row {lineno}: missing column '{columns['answer']}'")
            prepared["answer"] = str(row[columns["answer"]])
        out.append(prepared)
    return out
