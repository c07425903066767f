"""Figures from the summary table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def tradeoff(summary: pd.DataFrame, x_benchmark: str, y_benchmark: str, out: str | Path,
             title: str = "Safety tax: reasoning vs refusal of harmful requests") -> None:
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
    ax.set_title(title)
    fig.tight_layout()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)


def downstream(summary: pd.DataFrame, x_benchmark: str, y_benchmark: str, variants: list[str], out: str | Path) -> None:
    """Downstream task score against safety kept, for the given variants only."""
    tradeoff(summary[summary["variant"].isin(variants)], x_benchmark, y_benchmark, out,
             title="Downstream fine-tuning: task accuracy vs safety kept")
