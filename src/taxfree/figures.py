"""Figures from the summary table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def tradeoff(summary: pd.DataFrame, x_benchmark: str, y_benchmark: str, out: str | Path) -> None:
    """Reasoning (y) against safety (x): one labelled point per (model, variant)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    headline = summary[summary["metric"] != "response_tokens"]

    def values(benchmark: str) -> pd.Series:
        rows = headline[headline["benchmark"] == benchmark]
        return rows.set_index(["model", "variant"])["value"].rename(benchmark)

    points = pd.concat([values(x_benchmark), values(y_benchmark)], axis=1).dropna()
    x_metric = headline.loc[headline["benchmark"] == x_benchmark, "metric"].iloc[0]
    y_metric = headline.loc[headline["benchmark"] == y_benchmark, "metric"].iloc[0]
    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=150)
    for model, group in points.groupby(level="model"):
        ax.scatter(group[x_benchmark], group[y_benchmark], s=40, label=model, zorder=3)
        # Variants at the same point share one label, so none is drawn over another.
        coincident = group.reset_index().groupby([x_benchmark, y_benchmark])["variant"].agg(", ".join)
        for (x, y), label in coincident.items():
            ax.annotate(label, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xlabel(f"{x_benchmark} {x_metric}")
    ax.set_ylabel(f"{y_benchmark} {y_metric}")
    ax.set_xlim(-0.05, 1.1)
    ax.set_ylim(-0.05, 1.1)
    ax.grid(alpha=0.3)
    ax.legend(title="model", fontsize=8)
    ax.set_title("Safety tax: reasoning vs refusal of harmful requests")
    fig.tight_layout()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


_KIND_STYLE = {"full": "-", "lora": "--", "lora+reg": ":"}
_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def _module_order(modules: pd.Series) -> pd.Series:
    return modules.map(lambda name: _MODULES.index(name) if name in _MODULES else len(_MODULES))


def _by_layer(table: pd.DataFrame, value: str, columns: str, title: str, ylabel: str, out: str | Path,
              logy: bool = False, rows: str = "model") -> None:
    """One panel per (``rows`` value, ``columns`` value); one line per variant over layers, styled by its kind."""
    plt = _pyplot()
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
    handles, labels = {}, {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    fig.legend(list(handles.values()), list(handles), fontsize=7, loc="outside lower center", ncol=4)
    fig.suptitle(title)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)


def stable_rank_by_layer(geometry: pd.DataFrame, out: str | Path) -> None:
    """Stable rank of the update per layer, one panel per module type (the LoRA-safety paper's Fig. 1)."""
    modules = geometry.drop_duplicates(["model", "variant", "name"]).sort_values("module", key=_module_order)
    _by_layer(modules, "stable_rank", "module", "Stable rank of the update dW", "stable rank", out, logy=True)


def overlap_by_layer(geometry: pd.DataFrame, out: str | Path) -> None:
    """Share of the update's energy in W0's top-k subspace per layer (mean over modules): a row of
    panels per (model, k), one panel per side (left, right, both)."""
    rows = geometry.sort_values(["model", "k"]).melt(
        id_vars=["model", "variant", "kind", "layer", "name", "k"],
        value_vars=["overlap_left", "overlap_right", "overlap_both"], var_name="side", value_name="overlap")
    rows["side"] = rows["side"].str.removeprefix("overlap_")
    rows["subspace"] = rows["model"] + ", top-" + rows["k"].astype(str)
    _by_layer(rows, "overlap", "side", "Overlap of dW with W0's top-k singular subspace", "overlap", out,
              rows="subspace")


def alpha_sweep(summary: pd.DataFrame, sweeps: dict[str, dict[str, float]], benchmarks: list[str],
                out: str | Path) -> None:
    """Each benchmark's headline metric against alpha in W0 + alpha dW, one line per (sweep, benchmark)."""
    plt = _pyplot()
    headline = summary[(summary["metric"] != "response_tokens") & summary["benchmark"].isin(benchmarks)]
    models = sorted(headline["model"].unique())
    fig, axes = plt.subplots(1, len(models), figsize=(5.2 * len(models), 4.0), dpi=150, squeeze=False)
    for ax, model in zip(axes[0], models):
        for label, points in sweeps.items():
            alphas = pd.Series(points, name="alpha")
            rows = headline[(headline["model"] == model) & headline["variant"].isin(alphas.index)]
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
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
