"""Per-sample scores to one tidy table: a row per (model, variant, benchmark, metric)."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import pandas as pd

from taxfree.config.seeds import at_seed
from taxfree.core.errors import InputError
from taxfree.core.io import atomic_path, read_jsonl
from taxfree.core.provenance import environment, spec_hash
from taxfree.evaluation.metrics import (
    TOKEN_COUNTS,
    bootstrap_interval,
    pass_at_k,
    per_prompt,
)
from taxfree.evaluation.scoring import scorer
from taxfree.report.seeds import across_seeds

log = logging.getLogger(__name__)

COLUMNS = ["model", "variant", "seed", "benchmark", "category", "metric", "value", "ci_low", "ci_high", "n", "samples",
           "invalid", "truncated"]


def expected_rows(prompts: str | Path, spec: dict[str, Any]) -> int:
    """How many rows a score file of a benchmark holds: its prompts (those of its prepared file, ``prompts``)
    times its ``num_samples``."""
    return len({row["prompt_id"] for row in read_jsonl(prompts, required=("prompt_id",))}) * spec["num_samples"]


def check_score_file(path: str | Path, rows: list[dict[str, Any]], field: str, expected: int) -> None:
    """A score file must hold every row of its benchmark and only finite numbers: a file cut short (a
    killed copy, a partial sync) would otherwise report a smaller ``n``, and a NaN would become a blank
    cell. A null verdict is not a NaN: it is a judge reply that did not parse, counted ``invalid``."""
    if len(rows) != expected:
        raise InputError(f"{path}: {len(rows)} rows, but its benchmark's prompts times num_samples make "
                         f"{expected}: the file is incomplete or stale; delete it and rerun to rescore")
    for number, row in enumerate(rows, start=1):
        for key in (field, "n_response_tokens", "n_reasoning_tokens"):
            value = row[key]
            if value is None and key == field:
                continue
            if isinstance(value, bool) or (isinstance(value, (int, float)) and math.isfinite(value)):
                continue
            raise InputError(f"{path}: row {number} (prompt_id {row['prompt_id']}): field '{key}' is {value!r}, "
                             "not a finite number")


def score_rows(model: str, variant: str, benchmark: str, spec: dict[str, Any], path: str | Path,
               expected: int, seed: int = 0) -> list[dict]:
    """The benchmark's headline metric, the mean response and reasoning lengths, and pass@k for each ``pass_at_k``.

    Values are means over prompts of each prompt's mean over its samples, with a 95% bootstrap
    interval over prompts (samples of one prompt are not independent). ``n`` counts prompts,
    ``samples`` scored rows, ``invalid`` rows whose judgement could not be parsed (left out), and
    ``truncated`` rows whose reasoning was cut off before it closed (scored: no answer, no refusal).
    When no row has a valid judgement the headline metric (and pass@k) is NaN with ``n`` 0 and
    every row counted ``invalid``: the run finishes and the table says the judge failed, rather
    than one unusable judge stopping the whole grid's summary. A file without ``expected`` rows, or with
    a non-finite number, is an error naming the file (``check_score_file``).
    """
    cls = scorer(spec)
    rows = read_jsonl(path, required=(cls.field, "n_response_tokens", "n_reasoning_tokens", "prompt_id",
                                      "truncated"))
    if not rows:
        raise InputError(f"{path}: no rows")
    check_score_file(path, rows, cls.field, expected)
    scores = per_prompt(rows, cls.field)
    invalid = sum(r[cls.field] is None for r in rows)
    if not scores:
        log.warning("%s: no valid '%s' in any of its %d rows; %s is NaN", path, cls.field, len(rows), cls.metric)
    base = {"model": model, "variant": variant, "seed": seed, "benchmark": benchmark, "category": spec["category"],
            "n": len(scores), "samples": len(rows), "invalid": invalid,
            "truncated": sum(bool(r["truncated"]) for r in rows)}
    per_prompt_means = {cls.metric: [sum(v) / len(v) for v in scores.values()]}
    for field in TOKEN_COUNTS:
        per_prompt_means[field] = [sum(v) / len(v) for v in per_prompt(rows, f"n_{field}").values()]
    for k in spec.get("pass_at_k", []):
        per_prompt_means[f"pass@{k}"] = [pass_at_k(len(v), int(sum(v)), k) for v in scores.values()]
    return [{**base, "metric": metric, **_mean_and_interval(values)} for metric, values in per_prompt_means.items()]


def _mean_and_interval(values: list[float]) -> dict[str, float]:
    """Mean and 95% bootstrap interval; NaN for all three when there is no value."""
    if not values:
        return {"value": math.nan, "ci_low": math.nan, "ci_high": math.nan}
    return {"value": sum(values) / len(values), **dict(zip(("ci_low", "ci_high"), bootstrap_interval(values)))}


def is_headline(metric: pd.Series) -> pd.Series:
    """Whether each metric is its benchmark's own (accuracy, refusal rate, ...), not a length or pass@k."""
    return ~metric.isin(TOKEN_COUNTS) & ~metric.str.startswith("pass@")


def _cell(value: Any) -> Any:
    """Lists and mappings as compact text, so every parameter column holds one scalar type."""
    if isinstance(value, list):
        return ",".join(map(str, value))
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return value


def variant_parameters(specs: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """One row per variant: its spec's hash and one column per resolved setting (``training.learning_rate``,
    ``lora.rank``, ...)."""
    rows = [{"variant": name, "spec_hash": spec_hash(spec),
             **{key: _cell(value) for key, value in _flatten(spec).items()}}
            for name, spec in specs.items()]
    return pd.DataFrame.from_records(rows)


def _flatten(spec: dict[str, Any]) -> dict[str, Any]:
    """Blocks one level deep become dotted keys; deeper values stay whole."""
    flat: dict[str, Any] = {}
    for key, value in spec.items():
        if isinstance(value, dict):
            flat.update({f"{key}.{inner}": v for inner, v in value.items()})
        else:
            flat[key] = value
    return flat


def _records(entries: list[dict[str, Any]], benchmarks: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """score_rows of every entry (seed, model, variant, benchmark, the scored JSONL's ``path`` and the
    benchmark's prepared ``prompts``, which say how many rows the scores must have), each with the entry's
    ``epoch`` if any."""
    expected = {e["prompts"]: expected_rows(e["prompts"], benchmarks[e["benchmark"]]) for e in entries}
    return [{**rec, **({"epoch": e["epoch"]} if "epoch" in e else {})} for e in entries
            for rec in score_rows(e["model"], e["variant"], e["benchmark"], benchmarks[e["benchmark"]], e["path"],
                                  expected[e["prompts"]], e["seed"])]


def summarise(entries: list[dict[str, Any]], benchmarks: dict[str, dict[str, Any]],
              specs: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """The tidy results table (see ``_records`` for ``entries``); each row also carries its variant's parameters
    as columns (``specs``: resolved variants)."""
    frame = pd.DataFrame.from_records(_records(entries, benchmarks), columns=COLUMNS)
    frame = frame.merge(variant_parameters(specs), on="variant", how="left", validate="many_to_one")
    return frame.sort_values(["model", "variant", "seed", "benchmark", "metric"], ignore_index=True)


def summarise_epochs(entries: list[dict[str, Any]], benchmarks: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """The per-epoch table (``results/epochs.csv``): the summary's columns with ``epoch`` after ``variant``,
    from entries that also carry their ``epoch``."""
    columns = [*COLUMNS[:3], "epoch", *COLUMNS[3:]]
    frame = pd.DataFrame.from_records(_records(entries, benchmarks), columns=columns)
    return frame.sort_values(["model", "variant", "seed", "benchmark", "metric", "epoch"], ignore_index=True)


def write_table(summary: pd.DataFrame, csv: str | Path, parquet: str | Path) -> None:
    """The same table as CSV (for people and diffs) and Parquet (typed, for pandas/polars/duckdb)."""
    with atomic_path(csv) as tmp:
        summary.to_csv(tmp, index=False, float_format="%.6g")
    with atomic_path(parquet) as tmp:
        summary.to_parquet(tmp, index=False)


def to_markdown(summary: pd.DataFrame) -> str:
    """A (model, variant) x (benchmark metric) table of the headline metrics and reasoning lengths (means over
    seeds, with the standard deviation across seeds where there are several), with each benchmark's count of
    truncated rows (over every seed) after its metrics."""
    means = across_seeds(summary)
    several = means["seeds"].max() > 1
    means["cell"] = [f"{m:.3f} ± {s:.3f}" if several else f"{m:.3f}" for m, s in zip(means["mean"], means["std"])]
    headline = means[is_headline(means["metric"]) | (means["metric"] == "reasoning_tokens")]
    index = ["model", "variant"]
    values = headline.pivot(index=index, columns=["benchmark", "metric"], values="cell")
    values = values.reindex(headline.drop_duplicates(index).set_index(index).index)
    # ``truncated`` is one count per (seed, benchmark), repeated on each of its metric rows.
    counts = (summary.drop_duplicates([*index, "seed", "benchmark"]).groupby([*index, "benchmark"], sort=False)
              ["truncated"].sum().unstack("benchmark").reindex(values.index))
    benchmarks = list(dict.fromkeys(bench for bench, _ in values.columns))
    table = pd.DataFrame(index=values.index)
    for bench in benchmarks:
        for metric in values[bench].columns:
            table[f"{bench} {metric}"] = values[(bench, metric)]
        table[f"{bench} truncated"] = counts[bench]
    return table.reset_index().to_markdown(index=False, disable_numparse=True) + "\n"


def token_distribution(entries: list[dict[str, Any]], quantiles: tuple[float, ...] = (0.1, 0.25, 0.5, 0.75, 0.9)
                       ) -> pd.DataFrame:
    """Reasoning tokens per answer for every (model, variant, benchmark): mean and quantiles."""
    records = []
    for e in entries:
        tokens = pd.Series([r["n_reasoning_tokens"] for r in read_jsonl(e["path"], required=("n_reasoning_tokens",))],
                           dtype=float)
        records.append({"model": e["model"], "variant": e["variant"], "seed": e["seed"], "benchmark": e["benchmark"],
                        "n": len(tokens),
                        "mean": tokens.mean(), **{f"p{round(q * 100)}": tokens.quantile(q) for q in quantiles},
                        "max": tokens.max()})
    return pd.DataFrame.from_records(records).sort_values(["model", "variant", "seed", "benchmark"], ignore_index=True)


def to_metrics(spread: pd.DataFrame) -> dict[str, Any]:
    """Nested {model: {variant: {benchmark: {metric: value}}}} of the means over seeds (``spread``: the
    ``across_seeds`` table), the layout ``dvc metrics`` reads; a NaN value (no valid judgement) is null, as JSON
    has no NaN."""
    nested: dict[str, Any] = {}
    for row in spread.itertuples(index=False):
        value = None if math.isnan(row.mean) else round(float(row.mean), 6)
        nested.setdefault(row.model, {}).setdefault(row.variant, {}).setdefault(row.benchmark, {})[row.metric] = value
    return nested


def provenance(specs: dict[str, dict[str, Any]], model_dirs: list[tuple[int, str, str, str]]) -> dict[str, Any]:
    """How every result was made: this step's environment, and per (seed, model, variant) the spec hash, the
    training seed and the environment the model was trained in (``provenance.json`` beside its weights)."""
    runs: dict[str, Any] = {}
    for seed, model, variant, directory in model_dirs:
        trained = Path(directory) / "provenance.json"
        runs.setdefault(str(seed), {}).setdefault(model, {})[variant] = {
            "spec_hash": spec_hash(specs[variant]),
            "seed": at_seed(specs[variant], seed).get("training", {}).get("seed"),
            "trained": json.loads(trained.read_text()) if trained.is_file() else None,
        }
    return {"aggregated": environment(), "seeds": runs}
