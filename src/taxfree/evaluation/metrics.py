"""Summary statistics of per-sample scores."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from math import comb
from typing import Any

import numpy as np

# Lengths per answer, in tokens; every other metric of the summary (a judge's or grader's rate, pass@k) is a
# fraction in [0, 1].
TOKEN_COUNTS = ("response_tokens", "reasoning_tokens")


def bootstrap_interval(values: Sequence[float], confidence: float = 0.95, resamples: int = 2000,
                       seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean; seeded, so the same scores give the same interval."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        raise ValueError("no values to summarise")
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(resamples, data.size))].mean(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of one prompt with ``c`` of ``n`` samples correct: 1 - C(n-c, k) / C(n, k)."""
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples, got {n}")
    return 1.0 - comb(n - c, k) / comb(n, k)


def per_prompt(rows: Sequence[dict[str, Any]], field: str) -> dict[Any, list[float]]:
    """Valid values of ``field`` (None marks an invalid judgement and is left out), by ``prompt_id``."""
    values: dict[Any, list[float]] = defaultdict(list)
    for row in rows:
        if row[field] is not None:
            values[row["prompt_id"]].append(float(row[field]))
    return values
