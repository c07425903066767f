"""Results over run seeds: the mean, its spread and a 95% interval across seeds."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
from scipy import stats

from taxfree.core.errors import InputError
from taxfree.evaluation.metrics import TOKEN_COUNTS

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


def _spread(table: pd.DataFrame, keys: Sequence[str], confidence: float) -> pd.DataFrame:
    """One row per ``keys`` of a table with ``seed`` and ``value``: the ``mean`` and ``std`` of the seeds'
    values, their t-interval (``ci_low``, ``ci_high``) and ``seeds``. Missing values are skipped, as the
    interval skips them."""
    _one_row_per_seed(table, keys)
    groups = table.groupby(list(keys), sort=False, dropna=False)
    spread = groups.agg(mean=("value", "mean"), std=("value", "std"), seeds=("value", "size")).reset_index()
    intervals = [t_interval(group["value"].astype(float).tolist(), confidence) for _, group in groups]
    spread["ci_low"], spread["ci_high"] = [low for low, _ in intervals], [high for _, high in intervals]
    return spread


def across_seeds(summary: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """One row per measurement of ``summary`` (with its ``seed`` column): ``mean``, ``std`` (sample standard
    deviation, NaN for one seed), the 95% t-interval across seeds (``ci_low``, ``ci_high``, NaN for one
    seed) and ``seeds``, how many there are (results/summary_seeds.csv)."""
    keys = [*KEYS[:3], "category", KEYS[3]]
    return _spread(summary, keys, confidence)[[*keys, "mean", "std", "ci_low", "ci_high", "seeds"]]


def seed_means(summary: pd.DataFrame, keys: Sequence[str] = KEYS, confidence: float = 0.95) -> pd.DataFrame:
    """What a figure draws: one row per ``keys`` with ``value``, ``ci_low``, ``ci_high`` and ``seeds``. Over
    several seeds: the mean and its t-interval across seeds; with one seed: that row's own value and
    interval (the bootstrap over prompts). A fraction's interval is cut to [0, 1]: a t-interval over a few
    seeds reaches past the bounds that no seed can. A table without a ``seed`` column is one seed."""
    table = summary if "seed" in summary else summary.assign(seed=0)
    spread = _spread(table, keys, confidence)
    own = table.groupby(list(keys), sort=False, dropna=False)[["ci_low", "ci_high"]].first().to_numpy()
    one = (spread["seeds"] == 1).to_numpy()
    spread.loc[one, ["ci_low", "ci_high"]] = own[one]
    if "metric" in spread:
        fraction = ~spread["metric"].isin(TOKEN_COUNTS)
        spread.loc[fraction] = within_bounds(spread.loc[fraction], "mean", (0.0, 1.0))
    return spread.rename(columns={"mean": "value"})[[*keys, "value", "ci_low", "ci_high", "seeds"]]


def within_bounds(table: pd.DataFrame, value: str, bounds: tuple[float | None, float | None]) -> pd.DataFrame:
    """``table`` with its intervals (``ci_low``, ``ci_high``) cut to the statistic's ``bounds`` (lower, upper;
    None: unbounded), never past the row's own ``value``: a t-interval over a few seeds reaches past bounds
    that no seed can."""
    lower, upper = bounds
    table = table.copy()
    if lower is not None:
        table["ci_low"] = table["ci_low"].clip(lower=table[value].clip(upper=lower))
    if upper is not None:
        table["ci_high"] = table["ci_high"].clip(upper=table[value].clip(lower=upper))
    return table
