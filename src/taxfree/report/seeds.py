"""Results over run seeds: the mean, its spread and a 95% interval across seeds."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
from scipy import stats

# What identifies one measurement apart from its seed.
KEYS = ["model", "variant", "benchmark", "category", "metric"]


def t_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """Student-t interval of the mean of ``values`` (one per seed); NaN for fewer than two values, where
    seeds say nothing about the noise."""
    values = [v for v in values if not math.isnan(v)]
    if len(values) < 2:
        return math.nan, math.nan
    mean = sum(values) / len(values)
    sem = stats.sem(values)
    if sem == 0:
        return mean, mean
    low, high = stats.t.interval(level, len(values) - 1, loc=mean, scale=sem)
    return float(low), float(high)


def across_seeds(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per measurement of ``summary`` (with its ``seed`` column): ``mean``, ``std`` (sample standard
    deviation, NaN for one seed), the 95% t-interval across seeds (``ci_low``, ``ci_high``, NaN for one
    seed) and ``seeds``, how many there are."""
    rows = []
    for key, group in summary.groupby(KEYS, sort=False, dropna=False):
        values = group["value"].astype(float).tolist()
        low, high = t_interval(values)
        rows.append({**dict(zip(KEYS, key)), "mean": sum(values) / len(values),
                     "std": group["value"].std(ddof=1), "ci_low": low, "ci_high": high, "seeds": len(values)})
    return pd.DataFrame.from_records(rows, columns=[*KEYS, "mean", "std", "ci_low", "ci_high", "seeds"])
