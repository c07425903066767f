"""Per-sample scores to one tidy table: a row per (model, variant, benchmark, metric)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from taxfree.graders import GRADERS
from taxfree.io import read_jsonl
from taxfree.metrics import bootstrap_interval

COLUMNS = ["model", "variant", "benchmark", "category", "metric", "value", "ci_low", "ci_high", "n"]


def scorer(benchmark: dict[str, Any]) -> Any:
    """The judge or grader class a benchmark is scored with."""
    from taxfree.judges import JUDGES

    return JUDGES[benchmark["judge"]] if "judge" in benchmark else GRADERS[benchmark["grader"]]


def score_rows(model: str, variant: str, benchmark: str, spec: dict[str, Any], path: str | Path) -> list[dict]:
    """The benchmark's headline metric and the mean response length, with 95% bootstrap intervals."""
    cls = scorer(spec)
    rows = read_jsonl(path, required=(cls.field, "n_response_tokens"))
    base = {"model": model, "variant": variant, "benchmark": benchmark, "category": spec["category"], "n": len(rows)}
    samples = {cls.metric: [float(bool(r[cls.field])) for r in rows],
               "response_tokens": [float(r["n_response_tokens"]) for r in rows]}
    # Generations from before reasoning was counted lack the field; the rest of the table still stands.
    if all("n_reasoning_tokens" in r for r in rows):
        samples["reasoning_tokens"] = [float(r["n_reasoning_tokens"]) for r in rows]
    return [{**base, "metric": metric, "value": sum(values) / len(values),
             **dict(zip(("ci_low", "ci_high"), bootstrap_interval(values)))}
            for metric, values in samples.items()]


def summarise(entries: list[dict[str, Any]], benchmarks: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """``entries``: dicts with model, variant, benchmark and path of a scored JSONL."""
    records = [rec for e in entries
               for rec in score_rows(e["model"], e["variant"], e["benchmark"], benchmarks[e["benchmark"]], e["path"])]
    frame = pd.DataFrame.from_records(records, columns=COLUMNS)
    return frame.sort_values(["model", "variant", "benchmark", "metric"], ignore_index=True)


def to_markdown(summary: pd.DataFrame) -> str:
    """A (model, variant) x (benchmark metric) table of the headline metrics."""
    headline = summary[summary["metric"] != "response_tokens"]
    table = headline.pivot_table(index=["model", "variant"], columns=["benchmark", "metric"], values="value",
                                 sort=False)
    table.columns = [f"{bench} {metric}" for bench, metric in table.columns]
    return table.reset_index().to_markdown(index=False, floatfmt=".3f") + "\n"


def token_distribution(entries: list[dict[str, Any]], quantiles: tuple[float, ...] = (0.1, 0.25, 0.5, 0.75, 0.9)
                       ) -> pd.DataFrame:
    """Reasoning tokens per answer for every (model, variant, benchmark): mean and quantiles."""
    records = []
    for e in entries:
        tokens = pd.Series([r["n_reasoning_tokens"] for r in read_jsonl(e["path"], required=("n_reasoning_tokens",))],
                           dtype=float)
        records.append({"model": e["model"], "variant": e["variant"], "benchmark": e["benchmark"], "n": len(tokens),
                        "mean": tokens.mean(), **{f"p{round(q * 100)}": tokens.quantile(q) for q in quantiles},
                        "max": tokens.max()})
    return pd.DataFrame.from_records(records).sort_values(["model", "variant", "benchmark"], ignore_index=True)


def to_metrics(summary: pd.DataFrame) -> dict[str, Any]:
    """Nested {model: {variant: {benchmark: {metric: value}}}}, the layout ``dvc metrics`` reads."""
    nested: dict[str, Any] = {}
    for row in summary.itertuples(index=False):
        nested.setdefault(row.model, {}).setdefault(row.variant, {}).setdefault(row.benchmark, {})[row.metric] = \
            round(float(row.value), 6)
    return nested
