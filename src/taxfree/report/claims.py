"""The papers' claims, tested on a run's results (config ``claims``, results/claims.csv).

A claim compares one measure of two variants, ``a - b``, seed by seed: a benchmark metric from the summary,
or a weight-geometry statistic (the mean over the modules both variants update). It holds when the
difference lies on the claimed side of its threshold: with several seeds its whole 95% t-interval across
seeds, with one seed its value (one seed cannot measure the noise, and the table says so with an empty
interval).
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from taxfree.core.errors import InputError
from taxfree.report.seeds import t_interval

COLUMNS = ["paper", "claim", "model", "metric", "comparison", "value", "ci_low", "ci_high", "seeds", "holds"]


def describe_measure(claim: dict[str, Any]) -> str:
    if "geometry" in claim:
        geometry = claim["geometry"]
        k = f"@{geometry['k']}" if "k" in geometry else ""
        return f"{geometry['statistic']}{k} (weight geometry)"
    return f"{claim['benchmark']} {claim['metric']}"


def comparison(claim: dict[str, Any]) -> str:
    a, b = claim["variants"]
    side, threshold = (">", claim["above"]) if "above" in claim else ("<", claim["below"])
    return f"{a} - {b} {side} {threshold:g}"


def benchmark_measure(claim: dict[str, Any], summary: pd.DataFrame) -> pd.DataFrame:
    """(model, variant, seed, value) of the claim's benchmark metric."""
    rows = summary[(summary["benchmark"] == claim["benchmark"]) & (summary["metric"] == claim["metric"])
                   & summary["variant"].isin(claim["variants"])]
    if rows.empty:
        raise InputError(f"{summary.attrs.get('source', 'summary')}: no metric '{claim['metric']}' of benchmark "
                         f"'{claim['benchmark']}' for {', '.join(claim['variants'])} "
                         f"(a claim of {claim['paper']}: {claim['claim']})")
    return rows[["model", "variant", "seed", "value"]]


def geometry_measure(claim: dict[str, Any], geometry: pd.DataFrame) -> pd.DataFrame:
    """(model, variant, seed, value): the statistic's mean over the modules both variants update."""
    spec = claim["geometry"]
    rows = geometry[geometry["variant"].isin(claim["variants"])]
    if "k" in spec:
        rows = rows[rows["k"] == spec["k"]]
    else:  # stable rank does not depend on k: one row per module
        rows = rows.drop_duplicates(["seed", "model", "variant", "name"])
    counts = rows.groupby(["seed", "model", "name"])["variant"].nunique()
    shared = counts[counts == len(set(claim["variants"]))].reset_index()[["seed", "model", "name"]]
    if shared.empty:
        raise InputError(f"geometry: {' and '.join(claim['variants'])} update no module in common "
                         f"(a claim of {claim['paper']}: {claim['claim']})")
    rows = rows.merge(shared, on=["seed", "model", "name"])
    means = rows.groupby(["model", "variant", "seed"], as_index=False)[spec["statistic"]].mean()
    return means.rename(columns={spec["statistic"]: "value"})


def holds(claim: dict[str, Any], value: float, low: float, high: float, seeds: int) -> bool:
    if math.isnan(value):
        return False
    if "above" in claim:
        return (low if seeds > 1 else value) > claim["above"]
    return (high if seeds > 1 else value) < claim["below"]


def evaluate_claim(claim: dict[str, Any], summary: pd.DataFrame, geometry: pd.DataFrame) -> list[dict[str, Any]]:
    """One row per model: the claim's difference over seeds and whether it holds."""
    measure = geometry_measure(claim, geometry) if "geometry" in claim else benchmark_measure(claim, summary)
    wide = measure.pivot_table(index=["model", "seed"], columns="variant", values="value", dropna=False)
    a, b = claim["variants"]
    rows = []
    for model, per_seed in wide.groupby(level="model", sort=False):
        differences = (per_seed[a] - per_seed[b]).tolist()
        value = sum(differences) / len(differences)
        low, high = t_interval(differences)
        rows.append({"paper": claim["paper"], "claim": claim["claim"], "model": model,
                     "metric": describe_measure(claim), "comparison": comparison(claim), "value": value,
                     "ci_low": low, "ci_high": high, "seeds": len(differences),
                     "holds": holds(claim, value, low, high, len(differences))})
    return rows


def evaluate_claims(claims: list[dict[str, Any]], summary: pd.DataFrame, geometry: pd.DataFrame) -> pd.DataFrame:
    rows = [row for claim in claims for row in evaluate_claim(claim, summary, geometry)]
    return pd.DataFrame.from_records(rows, columns=COLUMNS)


def to_markdown(claims: pd.DataFrame) -> str:
    """The claims section of summary.md."""
    if claims.empty:
        return ""
    table = claims.assign(interval=[f"[{lo:.3f}, {hi:.3f}]" if not math.isnan(lo) else "(one seed)"
                                    for lo, hi in zip(claims["ci_low"], claims["ci_high"])])
    table = table[["paper", "claim", "model", "metric", "comparison", "value", "interval", "seeds", "holds"]]
    return ("\nClaims (a difference holds when its 95% interval across seeds, or with one seed its value, is on "
            "the claimed side):\n\n" + table.to_markdown(index=False, floatfmt=".3f") + "\n")
