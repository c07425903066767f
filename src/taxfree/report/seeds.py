"""One value per result across training seeds, with the interval a figure draws for it."""

from __future__ import annotations

import math
from typing import Sequence

import pandas as pd

from taxfree.core.errors import InputError

KEYS = ("model", "variant", "benchmark", "metric")


def _two_sided_t_cdf(t: float, df: int) -> float:
    """P(|T| <= t) for Student's t with ``df`` (integer) degrees of freedom, in closed form
    (Abramowitz & Stegun 26.7.3-4): the plotting environment has no scipy."""
    theta = math.atan(t / math.sqrt(df))
    cos2, sin = math.cos(theta) ** 2, math.sin(theta)
    if df % 2 == 0:
        term = total = 1.0
        for j in range(2, df, 2):
            term *= (j - 1) / j * cos2
            total += term
        return sin * total
    term = math.cos(theta)
    total = term if df > 1 else 0.0
    for j in range(3, df, 2):
        term *= (j - 1) / j * cos2
        total += term
    return 2 / math.pi * (theta + sin * total)


def t_quantile(confidence: float, df: int) -> float:
    """The t with P(|T| <= t) = ``confidence``: the half-width of a t-interval in standard errors."""
    low, high = 0.0, 1.0
    while _two_sided_t_cdf(high, df) < confidence:
        low, high = high, 2 * high
    for _ in range(60):  # bisection to well below plotting precision
        middle = (low + high) / 2
        low, high = (middle, high) if _two_sided_t_cdf(middle, df) < confidence else (low, middle)
    return (low + high) / 2


def seed_means(summary: pd.DataFrame, keys: Sequence[str] = KEYS, confidence: float = 0.95) -> pd.DataFrame:
    """One row per ``keys`` with ``value``, ``ci_low``, ``ci_high`` and ``seeds``. Over several seeds: the mean
    and its t-interval across seeds; with one seed: that row's own value and interval (the bootstrap over
    prompts). A table without a ``seed`` column is one seed."""
    table = summary if "seed" in summary else summary.assign(seed=0)
    repeated = table.duplicated([*keys, "seed"])
    if repeated.any():
        row = table[repeated].iloc[0]
        raise InputError(f"results table: more than one row for {', '.join(f'{k}={row[k]}' for k in keys)}, "
                         f"seed {row['seed']}")
    groups = table.groupby(list(keys), sort=False, dropna=False)
    out = groups.agg(value=("value", "mean"), sd=("value", "std"), seeds=("seed", "size"),
                     ci_low=("ci_low", "first"), ci_high=("ci_high", "first")).reset_index()
    several = out["seeds"] > 1
    t = out["seeds"].map(lambda n: t_quantile(confidence, n - 1) if n > 1 else math.nan)
    half = t * out["sd"] / out["seeds"] ** 0.5
    out["ci_low"] = out["ci_low"].where(~several, out["value"] - half)
    out["ci_high"] = out["ci_high"].where(~several, out["value"] + half)
    return out.drop(columns="sd")
