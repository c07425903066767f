"""Evaluation sets: any source (local file or hub) to rows with ``prompt`` (and ``answer``) fields.

A benchmark asks for ``num_samples`` samples per prompt; each becomes its own row with its
``sample`` index and ``seed``, so generation and scoring handle one row per sample and
multiple-choice options can be shuffled per seed.
"""

from __future__ import annotations

import random
import string
from typing import Any

from taxfree.core.errors import InputError
from taxfree.data.datasets import load_rows, require_text


def shuffle_choices(source: str, lineno: int, row: dict[str, Any], choices: dict[str, Any],
                    seed: int, label: str) -> tuple[str, str]:
    """(options as lines starting with ``label``, e.g. "A) ...", the letter of the correct one), in an order
    fixed by (seed, row)."""
    correct = require_text(source, lineno, row, choices["correct"]).strip()
    options = [correct] + [require_text(source, lineno, row, c).strip() for c in choices["incorrect"]]
    # A string seed is hashed the same way in every process (unlike hash()), so shuffles are reproducible.
    order = random.Random(f"{seed}/{lineno}").sample(range(len(options)), len(options))
    letters = string.ascii_uppercase
    text = "\n".join(label.replace("{letter}", letters[pos]) + options[i] for pos, i in enumerate(order))
    return text, letters[order.index(0)]


def example_of(source: str, lineno: int, row: dict[str, Any], column: str) -> str:
    """The text of ``column`` for {example}: the value, or the first item of a list (MBPP's test_list)."""
    value = row.get(column)
    if isinstance(value, list):
        value = value[0] if value else None
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{source}: row {lineno}: column '{column}' (columns.example) has no text")
    return value.strip()


def prepare_evalset(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of a benchmark spec (see the schema's ``benchmark``), filtered, templated and truncated.

    Each row keeps its source columns and gains ``prompt_id`` (its index), ``sample``, ``seed``,
    ``prompt`` (the text sent to the model, built from ``prompt_template``), ``source_prompt``
    and, for graded sets, ``answer`` as text (the correct option's letter when ``choices`` are shuffled).
    """
    source, rows = load_rows(spec)
    columns, choices = spec["columns"], spec["choices"]
    kept = [row for row in rows if all(row.get(key) == value for key, value in spec["where"].items())]
    if not kept:
        raise InputError(f"{source}: no rows left after filtering on {spec['where']}")
    if spec["unique_prompts"]:
        first: dict[Any, dict[str, Any]] = {}
        for row in kept:
            first.setdefault(row.get(columns["prompt"]), row)
        kept = list(first.values())
    out = []
    for lineno, row in enumerate(kept[: spec["max_rows"]] if spec["max_rows"] else kept, start=1):
        question = require_text(source, lineno, row, columns["prompt"])
        # replace, not str.format: templates hold LaTeX braces such as \boxed{}.
        template = spec["prompt_template"].replace("{prompt}", question)
        if columns["example"] is not None:
            template = template.replace("{example}", example_of(source, lineno, row, columns["example"]))
        if columns["answer"] is not None and columns["answer"] not in row:
            raise InputError(f"{source}: row {lineno}: missing column '{columns['answer']}'")
        for sample in range(spec["num_samples"]):
            seed = spec["seed"] + sample
            prepared = {**row, "prompt_id": lineno - 1, "sample": sample, "seed": seed, "source_prompt": question,
                        "prompt": template}
            if choices:
                options, prepared["answer"] = shuffle_choices(source, lineno, row, choices, seed, spec["choice_label"])
                prepared["prompt"] = template.replace("{choices}", options)
            elif columns["answer"] is not None:
                prepared["answer"] = str(row[columns["answer"]])
            out.append(prepared)
    return out
