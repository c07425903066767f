"""Figures from the results table, each saved as PNG (for the report) and PDF (for papers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import matplotlib
import matplotlib.pyplot as plt
import pandas as pd

from taxfree.report.aggregate import is_headline

matplotlib.use("Agg")  # figures are files; no display is needed or assumed
STYLE = {"font.size": 10, "axes.titlesize": 11, "legend.fontsize": 8}


def save(fig: Any, outs: Sequence[str | Path]) -> None:
    """Write ``fig`` once per path; the suffix picks the format."""
    for out in outs:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, format=Path(out).suffix.lstrip("."))
    plt.close(fig)


def headline(summary: pd.DataFrame) -> pd.DataFrame:
    """Each benchmark's own metric (accuracy, refusal rate, ...), not length statistics or pass@k."""
    return summary[is_headline(summary["metric"])]


def pareto_front(points: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    """Points no other point beats on both axes (higher is better on both), ordered by ``x``."""
    ordered = points.sort_values([x, y], ascending=[False, False])
    best_y = ordered[y].cummax().shift(fill_value=float("-inf"))
    return ordered[ordered[y] > best_y].sort_values(x)


def tradeoff_points(summary: pd.DataFrame, x_benchmark: str, y_benchmark: str) -> pd.DataFrame:
    """One row per (model, variant): its ``safety`` (x benchmark) and ``reasoning`` (y benchmark) values."""
    table = headline(summary).set_index(["model", "variant"])

    def values(benchmark: str, name: str) -> pd.Series:
        return table.loc[table["benchmark"] == benchmark, "value"].rename(name)

    points = pd.concat([values(x_benchmark, "safety"), values(y_benchmark, "reasoning")], axis=1).dropna()
    return points.reset_index()


def _axis_label(summary: pd.DataFrame, benchmark: str) -> str:
    table = headline(summary)
    return f"{benchmark} {table.loc[table['benchmark'] == benchmark, 'metric'].iloc[0]}"


@plt.rc_context(STYLE)
def tradeoff(summary: pd.DataFrame, x_benchmark: str, y_benchmark: str, outs: Sequence[str | Path],
             title: str = "Safety tax: reasoning vs refusal of harmful requests") -> None:
    """Reasoning (y) against safety (x): one labelled point per (model, variant), Pareto front per model."""
    points = tradeoff_points(summary, x_benchmark, y_benchmark)
    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=150)
    for model, group in points.groupby("model"):
        dots = ax.scatter(group["safety"], group["reasoning"], s=40, label=model, zorder=3)
        front = pareto_front(group, "safety", "reasoning")
        ax.plot(front["safety"], front["reasoning"], drawstyle="steps-post", color=dots.get_facecolor()[0],
                alpha=0.6, zorder=2, label=f"{model} Pareto front")
        # Variants at the same point share one label, so none is drawn over another.
        coincident = group.groupby(["safety", "reasoning"])["variant"].agg(", ".join)
        for (x, y), label in coincident.items():
            ax.annotate(label, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_xlabel(f"{_axis_label(summary, x_benchmark)} (higher is safer)")
    ax.set_ylabel(_axis_label(summary, y_benchmark))
    ax.set_xlim(-0.05, 1.1)
    ax.set_ylim(-0.05, 1.1)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title)
    fig.tight_layout()
    save(fig, outs)


@plt.rc_context(STYLE)
def ablation(summary: pd.DataFrame, variants: list[str], title: str, outs: Sequence[str | Path]) -> None:
    """Every benchmark's headline metric with its 95% interval across ``variants``, one panel per model."""
    table = headline(summary)
    table = table[table["variant"].isin(variants)]
    models = list(dict.fromkeys(table["model"]))
    fig, axes = plt.subplots(1, len(models), figsize=(1.2 + 1.1 * len(variants) * len(models), 4.2), dpi=150,
                             squeeze=False, sharey=True)
    for ax, model in zip(axes[0], models):
        rows = table[table["model"] == model]
        present = [v for v in variants if v in set(rows["variant"])]
        for (benchmark, metric), series in rows.groupby(["benchmark", "metric"], sort=False):
            series = series.set_index("variant").loc[[v for v in present if v in series["variant"].values]]
            position = [present.index(v) for v in series.index]
            error = [series["value"] - series["ci_low"], series["ci_high"] - series["value"]]
            ax.errorbar(position, series["value"], yerr=error, marker="o", capsize=3, label=f"{benchmark} {metric}")
        ax.set_xticks(range(len(present)), present, rotation=30, ha="right")
        ax.set_title(model)
        ax.set_ylim(-0.05, 1.05)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("value (95% bootstrap interval)")
    axes[0][-1].legend(loc="best")
    fig.suptitle(title)
    fig.tight_layout()
    save(fig, outs)


@plt.rc_context(STYLE)
def epochs(table: pd.DataFrame, outs: Sequence[str | Path]) -> None:
    """Each (model, benchmark) headline metric against the epoch, one panel each and one line per variant,
    with 95% intervals as bands: where along training the safety tax appears."""
    table = headline(table).sort_values("epoch")
    panels = list(table[["model", "benchmark", "metric"]].drop_duplicates().itertuples(index=False))
    variants = list(dict.fromkeys(table["variant"]))
    colors = {variant: f"C{i % 10}" for i, variant in enumerate(variants)}
    # Variants that score the same (common at 0 and 1) are drawn side by side, each with its own marker.
    dodge = {variant: 0.08 * (i - (len(variants) - 1) / 2) for i, variant in enumerate(variants)}
    markers = dict(zip(variants, "osD^vP*X" * len(variants)))
    columns = min(len(panels), 3)
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.6 * columns, 3.0 * rows + 0.6), dpi=150, squeeze=False,
                             layout="constrained")
    for ax, (model, benchmark, metric) in zip(axes.flat, panels):
        rows_of = table[(table["model"] == model) & (table["benchmark"] == benchmark) & (table["metric"] == metric)]
        for variant, line in rows_of.groupby("variant", sort=False):
            x = line["epoch"] + dodge[variant]
            ax.fill_between(x, line["ci_low"], line["ci_high"], color=colors[variant], alpha=0.15, lw=0)
            ax.plot(x, line["value"], marker=markers[variant], ms=4, color=colors[variant], label=variant)
        ax.set_title(f"{model}: {benchmark}", fontsize=9)
        ax.set_xlabel("epoch (0: the model it starts from)" if (rows_of["epoch"] == 0).any() else "epoch")
        ax.set_ylabel(metric)
        ax.set_xticks(sorted(rows_of["epoch"].unique()))
        ax.set_ylim(-0.05, 1.05)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    handles = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncol=min(len(handles), 4))
    fig.suptitle("Metrics along training (95% bootstrap intervals)")
    save(fig, outs)


_KIND_STYLE = {"full": "-", "lora": "--", "lora+reg": ":"}
_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def _module_order(modules: pd.Series) -> pd.Series:
    return modules.map(lambda name: _MODULES.index(name) if name in _MODULES else len(_MODULES))


@plt.rc_context(STYLE)
def _by_layer(table: pd.DataFrame, value: str, columns: str, title: str, ylabel: str, outs: Sequence[str | Path],
              logy: bool = False, rows: str = "model") -> None:
    """One panel per (``rows`` value, ``columns`` value); one line per variant over layers, styled by its kind."""
    models, panels = list(dict.fromkeys(table[rows])), list(dict.fromkeys(table[columns]))
    colors = {variant: f"C{i % 10}" for i, variant in enumerate(sorted(table["variant"].unique()))}
    fig, axes = plt.subplots(len(models), len(panels), figsize=(2.8 * len(panels), 2.6 * len(models) + 0.8),
                             dpi=150, squeeze=False, sharey="row", layout="constrained")
    for row, model in enumerate(models):
        for col, panel in enumerate(panels):
            ax = axes[row][col]
            selected = table[(table[rows] == model) & (table[columns] == panel)]
            for (variant, kind), group in selected.groupby(["variant", "kind"]):
                series = group.groupby("layer")[value].mean()
                ax.plot(series.index, series.values, _KIND_STYLE.get(kind, "-."), color=colors[variant], marker="o",
                        ms=3, label=f"{variant} ({kind})")
            ax.set_title(f"{model}: {panel}", fontsize=9)
            ax.set_xlabel("layer")
            ax.grid(alpha=0.3)
            if logy:
                ax.set_yscale("log")
        axes[row][0].set_ylabel(ylabel)
    handles = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    fig.legend(list(handles.values()), list(handles), fontsize=7, loc="outside lower center", ncol=4)
    fig.suptitle(title)
    save(fig, outs)


def stable_rank_by_layer(geometry: pd.DataFrame, outs: Sequence[str | Path]) -> None:
    """Stable rank of the update per layer, one panel per module type (the LoRA-safety paper's Fig. 1)."""
    modules = geometry.drop_duplicates(["model", "variant", "name"]).sort_values("module", key=_module_order)
    _by_layer(modules, "stable_rank", "module", "Stable rank of the update dW", "stable rank", outs, logy=True)


def overlap_by_layer(geometry: pd.DataFrame, outs: Sequence[str | Path]) -> None:
    """Share of the update's energy in W0's top-k subspace per layer (mean over modules): a row of
    panels per (model, k), one panel per side (left, right, both)."""
    rows = geometry.sort_values(["model", "k"]).melt(
        id_vars=["model", "variant", "kind", "layer", "name", "k"],
        value_vars=["overlap_left", "overlap_right", "overlap_both"], var_name="side", value_name="overlap")
    rows["side"] = rows["side"].str.removeprefix("overlap_")
    rows["subspace"] = rows["model"] + ", top-" + rows["k"].astype(str)
    _by_layer(rows, "overlap", "side", "Overlap of dW with W0's top-k singular subspace", "overlap", outs,
              rows="subspace")


@plt.rc_context(STYLE)
def alpha_sweep(summary: pd.DataFrame, sweeps: dict[str, dict[str, float]], benchmarks: list[str],
                outs: Sequence[str | Path]) -> None:
    """Each benchmark's headline metric against alpha in W0 + alpha dW, one line per (sweep, benchmark)."""
    table = headline(summary)
    table = table[table["benchmark"].isin(benchmarks)]
    models = sorted(table["model"].unique())
    fig, axes = plt.subplots(1, len(models), figsize=(5.2 * len(models), 4.0), dpi=150, squeeze=False)
    for ax, model in zip(axes[0], models):
        for label, points in sweeps.items():
            alphas = pd.Series(points, name="alpha")
            rows = table[(table["model"] == model) & table["variant"].isin(alphas.index)]
            rows = rows.assign(alpha=rows["variant"].map(alphas)).sort_values("alpha")
            for (benchmark, metric), group in rows.groupby(["benchmark", "metric"]):
                ax.plot(group["alpha"], group["value"], marker="o", label=f"{label}: {benchmark} {metric}")
        ax.set_title(model)
        ax.set_xlabel("alpha (W0 + alpha dW)")
        ax.set_ylabel("value")
        ax.set_ylim(-0.05, 1.05)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("Merge strength: safety and reasoning along alpha")
    fig.tight_layout()
    save(fig, outs)


def downstream(summary: pd.DataFrame, x_benchmark: str, y_benchmark: str, variants: list[str],
               outs: Sequence[str | Path]) -> None:
    """Downstream task score against safety kept, for the given variants only."""
    tradeoff(summary[summary["variant"].isin(variants)], x_benchmark, y_benchmark, outs,
             title="Downstream fine-tuning: task accuracy vs safety kept")
