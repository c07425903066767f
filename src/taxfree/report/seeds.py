"""Results over run seeds: the mean, its spread and a 95% interval across seeds."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
from scipy import stats

from taxfree.core.errors import InputError

# What identifies one measurement apart from its seed.
KEYS = ("model", "variant", "benchmark", "metric")


def t_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """Student-t interval of the mean of ``values`` (one per seed); NaN for fewer than two values, where
    seeds say nothing about the noise."""
    values = [v for v in values if not math.isnan(v)]
    if len(values) < 2:
        return math.nan, math.nan
    mean = sum(values) / len(values)
    half = stats.t.ppf((1 + confidence) / 2, len(values) - 1) * stats.sem(values)
    return float(mean - half), float(mean + half)


def _one_row_per_seed(table: pd.DataFrame, keys: Sequence[str]) -> None:
    repeated = table.duplicated([*keys, "seed"])
    if repeated.any():
        row = table[repeated].iloc[0]
        raise InputError(f"results table: more than one row for {', '.join(f'{k}={row[k]}' for k in keys)}, "
                         f"seed {row['seed']}")


def across_seeds(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per measurement of ``summary`` (with its ``seed`` column): ``mean``, ``std`` (sample standard
    deviation, NaN for one seed), the 95% t-interval across seeds (``ci_low``, ``ci_high``, NaN for one
    seed) and ``seeds``, how many there are (results/summary_seeds.csv)."""
    keys = [*KEYS[:3], "category", KEYS[3]]
    _one_row_per_seed(summary, keys)
    rows = []
    for key, group in summary.groupby(keys, sort=False, dropna=False):
        values = group["value"].astype(float).tolist()
        low, high = t_interval(values)
        rows.append({**dict(zip(keys, key)), "mean": sum(values) / len(values),
                     "std": group["value"].std(ddof=1), "ci_low": low, "ci_high": high, "seeds": len(values)})
    return pd.DataFrame.from_records(rows, columns=[*keys, "mean", "std", "ci_low", "ci_high", "seeds"])


def seed_means(summary: pd.DataFrame, keys: Sequence[str] = KEYS, confidence: float = 0.95) -> pd.DataFrame:
    """What a figure draws: one row per ``keys`` with ``value``, ``ci_low``, ``ci_high`` and ``seeds``. Over
    several seeds: the mean and its t-interval across seeds; with one seed: that row's own value and
    interval (the bootstrap over prompts). A table without a ``seed`` column is one seed."""
    table = summary if "seed" in summary else summary.assign(seed=0)
    _one_row_per_seed(table, keys)
    rows = []
    for key, group in table.groupby(list(keys), sort=False, dropna=False):
        if len(group) == 1:
            low, high = group["ci_low"].iloc[0], group["ci_high"].iloc[0]
        else:
            low, high = t_interval(group["value"].astype(float).tolist(), confidence)
        rows.append({**dict(zip(keys, key)), "value": group["value"].mean(), "ci_low": low, "ci_high": high,
                     "seeds": len(group)})
    return pd.DataFrame.from_records(rows, columns=[*keys, "value", "ci_low", "ci_high", "seeds"])
