"""Figures from the results table, each saved as PNG (for the report) and PDF (for papers).

Every figure reduces seeds with ``seed_means`` (the mean over seeds and its t-interval, or one seed's own
bootstrap interval), colours a variant by its method family (``COLORS``, the same in every figure),
and draws only the variants its rule passes it (``families``: which variants each figure is about).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import patheffects
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, Patch, Wedge
from matplotlib.ticker import MaxNLocator

from taxfree.core.errors import InputError
from taxfree.report.aggregate import is_headline
from taxfree.report.seeds import KEYS, seed_means, within_bounds

matplotlib.use("Agg")  # figures are files; no display is needed or assumed
STYLE = {"font.size": 10, "axes.titlesize": 11, "legend.fontsize": 8}
MARKER = 0.026  # radius of a scatter marker, in axes fractions of a square panel
LINE = 10.5  # points between the lines of a scatter figure's list of variants
# One colour per method family (taxfree.report.families) that the method registry can make, the same in every
# figure; tests/test_figures.py checks that none is missing.
COLORS = {
    "none": "#4d4d4d",
    "full": "#1f77b4",
    "full+ssah": "#17becf",
    "lora": "#ff7f0e",
    "lora+regularizer": "#2ca02c",
    "lora+sap": "#8c564b",
    "dpo": "#9467bd",
    "merge": "#e377c2",
}


def save(fig: Any, outs: Sequence[str | Path]) -> None:
    """Write ``fig`` once per path; the suffix picks the format."""
    for out in outs:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, format=Path(out).suffix.lstrip("."))
    plt.close(fig)


def headline(summary: pd.DataFrame) -> pd.DataFrame:
    """Each benchmark's own metric (accuracy, refusal rate, ...), not length statistics or pass@k."""
    return summary[is_headline(summary["metric"])]


def interval_note(seeds: pd.Series, what: str = "bars", one_seed: str = "95% bootstrap interval over prompts") -> str:
    """What the intervals drawn from ``seed_means`` rows with these ``seeds`` counts are; ``one_seed``: what
    a one-seed row's interval is."""
    if (seeds > 1).all():
        counts = "-".join(str(n) for n in sorted({seeds.min(), seeds.max()}))
        return f"{what}: 95% t-interval across {counts} seeds"
    if (seeds == 1).all():
        return f"{what}: {one_seed}, one seed"
    return f"{what}: 95% t-interval across seeds where there are several, else the {one_seed}"


def pareto_front(points: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    """Points no other point beats on both axes (higher is better on both), ordered by ``x``."""
    ordered = points.sort_values([x, y], ascending=[False, False])
    best_y = ordered[y].cummax().shift(fill_value=float("-inf"))
    return ordered[ordered[y] > best_y].sort_values(x)


def tradeoff_points(summary: pd.DataFrame, x_benchmark: str, y_benchmark: str,
                    families: Mapping[str, str]) -> pd.DataFrame:
    """One row per (model, variant) of ``families``: its family, ``safety`` (x benchmark) and ``reasoning``
    (y benchmark) values with their intervals (``_low``, ``_high``), and the fewest ``seeds`` of the two."""
    table = seed_means(headline(summary))
    table = table[table["variant"].isin(list(families))].set_index(["model", "variant"])

    def values(benchmark: str, name: str) -> pd.DataFrame:
        rows = table.loc[table["benchmark"] == benchmark, ["value", "ci_low", "ci_high", "seeds"]]
        return rows.rename(columns={"value": name, "ci_low": f"{name}_low", "ci_high": f"{name}_high",
                                    "seeds": f"{name}_seeds"})

    points = pd.concat([values(x_benchmark, "safety"), values(y_benchmark, "reasoning")], axis=1)
    points = points.dropna(subset=["safety", "reasoning"]).reset_index()
    points["seeds"] = points[["safety_seeds", "reasoning_seeds"]].min(axis=1).astype(int)
    points.insert(2, "family", points["variant"].map(families))
    return points.drop(columns=["safety_seeds", "reasoning_seeds"])


def group_points(points: pd.DataFrame, x: str, y: str, distance: float) -> pd.Series:
    """A group number per point: points closer than ``distance`` share one (the closest two groups merge
    first, until any two groups' centres are ``distance`` apart, so their markers cannot overlap), numbered
    in reading order, top left first."""
    coords = points[[x, y]].to_numpy(float)
    groups = [[i] for i in range(len(coords))]
    while len(groups) > 1:
        centres = np.array([coords[g].mean(axis=0) for g in groups])
        gaps = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
        np.fill_diagonal(gaps, np.inf)
        a, b = np.unravel_index(np.argmin(gaps), gaps.shape)  # a < b: the first of a symmetric pair
        if gaps[a, b] >= distance:
            break
        groups[a] += groups.pop(b)
    centres = [coords[g].mean(axis=0) for g in groups]
    order = sorted(range(len(groups)), key=lambda i: (-round(centres[i][1], 9), round(centres[i][0], 9)))
    number = np.empty(len(coords), dtype=int)
    for n, i in enumerate(order, start=1):
        number[groups[i]] = n
    return pd.Series(number, index=points.index)


def _limits(low: pd.Series, high: pd.Series) -> tuple[float, float]:
    """Axis limits holding [0, 1] (headline metrics are rates), every interval, and a margin that keeps edge
    markers inside."""
    lo, hi = min(0.0, low.min()), max(1.0, high.max())
    pad = (hi - lo) * 0.07
    return lo - pad, hi + pad


def _marker(ax: Any, centre: tuple[float, float], families: list[str], number: int, start: bool) -> None:
    """One group's marker: a pie of its variants' family colours with its number inside; a thick ring marks
    a starting model."""
    counts = pd.Series(families).value_counts()
    angle = 90.0
    for name in [f for f in COLORS if f in counts]:
        sweep = 360.0 * counts[name] / counts.sum()
        ax.add_patch(Wedge(centre, MARKER, angle, angle + sweep, transform=ax.transAxes, facecolor=COLORS[name],
                           edgecolor="white", linewidth=0.4, zorder=3, clip_on=False))
        angle += sweep
    ax.add_patch(Circle(centre, MARKER, transform=ax.transAxes, fill=False, edgecolor="black",
                        linewidth=1.8 if start else 0.5, zorder=4, clip_on=False))
    ax.text(*centre, str(number), transform=ax.transAxes, ha="center", va="center", fontsize=6.5, color="white",
            weight="bold", zorder=5, path_effects=[patheffects.withStroke(linewidth=1.5, foreground="black")])


def _scatter_panel(ax: Any, points: pd.DataFrame, starts: Mapping[str, str]) -> pd.DataFrame:
    """One model's points, near ones grouped into one numbered marker with the union of their intervals;
    the Pareto front of the groups, or, with ``starts``, an arrow from each starting model to what was
    fine-tuned from it. Returns the points with their ``group``."""
    xlim, ylim = _limits(points["safety_low"], points["safety_high"]), _limits(points["reasoning_low"],
                                                                                points["reasoning_high"])
    ax.set(xlim=xlim, ylim=ylim, box_aspect=1)
    points = points.assign(fx=(points["safety"] - xlim[0]) / (xlim[1] - xlim[0]),
                           fy=(points["reasoning"] - ylim[0]) / (ylim[1] - ylim[0]))
    points["group"] = group_points(points, "fx", "fy", 2 * MARKER)
    centres = points.groupby("group")[["safety", "reasoning", "fx", "fy"]].mean()
    for number, members in points.groupby("group"):
        x, y = centres.loc[number, "safety"], centres.loc[number, "reasoning"]
        ax.errorbar(x, y, xerr=[[x - members["safety_low"].min()], [members["safety_high"].max() - x]],
                    yerr=[[y - members["reasoning_low"].min()], [members["reasoning_high"].max() - y]],
                    fmt="none", ecolor="0.4", elinewidth=0.8, capsize=2, zorder=2)
        _marker(ax, tuple(centres.loc[number, ["fx", "fy"]]), list(members["family"]), number,
                members["variant"].isin(list(starts.values())).any())
    if starts:
        group_of = points.set_index("variant")["group"]
        pairs = {(group_of[s], group_of[v]) for v, s in starts.items() if v in group_of and s in group_of}
        for start, end in sorted(pair for pair in pairs if pair[0] != pair[1]):
            ax.annotate("", xy=tuple(centres.loc[end, ["fx", "fy"]]), xytext=tuple(centres.loc[start, ["fx", "fy"]]),
                        xycoords="axes fraction", arrowprops={"arrowstyle": "-|>", "color": "0.6", "lw": 0.8,
                                                              "shrinkA": 7, "shrinkB": 7}, zorder=1)
    else:
        front = pareto_front(centres, "safety", "reasoning")
        ax.plot(front["safety"], front["reasoning"], drawstyle="steps-post", color="0.5", ls="--", lw=1, zorder=1)
    ax.grid(alpha=0.3)
    return points


def _variant_list(ax: Any, points: pd.DataFrame, starts: Mapping[str, str]) -> None:
    """The variants behind each numbered marker, one a line in its family's colour. The lines stay out of the
    layout (the figure is sized to hold them), so a long list cannot squeeze the panels."""
    ax.axis("off")
    lines = [("", "variants at each number", "0.3")]
    for number, members in points.sort_values(["group", "variant"]).groupby("group"):
        for i, row in enumerate(members.itertuples()):
            label = f"{row.variant} (start)" if row.variant in starts.values() else row.variant
            lines.append(("" if i else str(number), label, COLORS[row.family]))
    for i, (number, label, color) in enumerate(lines):
        for x, text, style in ((0, number, {"weight": "bold"}), (14, label, {"color": color})):
            ax.annotate(text, (0, 1), xycoords="axes fraction", xytext=(x, -LINE * i), textcoords="offset points",
                        va="top", fontsize=7, **style).set_in_layout(False)


def _axis_label(summary: pd.DataFrame, benchmark: str) -> str:
    table = headline(summary)
    return f"{benchmark} {table.loc[table['benchmark'] == benchmark, 'metric'].iloc[0]}"


@plt.rc_context(STYLE)
def _scatter(summary: pd.DataFrame, x_benchmark: str, y_benchmark: str, families: Mapping[str, str],
             starts: Mapping[str, str], title: str, outs: Sequence[str | Path]) -> pd.DataFrame:
    """Reasoning or task score (y) against safety (x), a square panel per model beside its list of variants.
    Returns the plotted points with their marker's ``group`` number."""
    points = tradeoff_points(summary, x_benchmark, y_benchmark, families)
    if points.empty:
        raise InputError(f"results table: none of the variants {', '.join(families)} has headline results on both "
                         f"{x_benchmark} and {y_benchmark}")
    models = list(dict.fromkeys(points["model"]))
    lines = points.groupby("model").size().max()
    listing_width = 0.4 + 0.065 * max(len(v) + 8 for v in points["variant"])  # inches for the longest label
    fig, axes = plt.subplots(1, 2 * len(models), figsize=((4.4 + listing_width) * len(models),
                                                          max(4.6, 2.4 + (lines + 1) * LINE / 72)),
                             width_ratios=[4.4, listing_width] * len(models), dpi=150, layout="constrained",
                             squeeze=False)
    plotted = []
    for model, ax, listing in zip(models, axes[0][0::2], axes[0][1::2]):
        plotted.append(_scatter_panel(ax, points[points["model"] == model], starts))
        _variant_list(listing, plotted[-1], starts)
        ax.set_xlabel(f"{_axis_label(summary, x_benchmark)} (higher is safer)")
        ax.set_ylabel(_axis_label(summary, y_benchmark))
        if len(models) > 1:
            ax.set_title(model)
    present = [f for f in COLORS if f in set(points["family"])]
    handles = [Patch(color=COLORS[f], label=f) for f in present]
    if starts:
        handles.append(Line2D([], [], marker="o", ls="", mfc="white", mec="black", mew=1.8, label="starting model"))
    else:
        handles.append(Line2D([], [], color="0.5", ls="--", label="Pareto front"))
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 5), title="method family")
    fig.suptitle(f"{title}\n({interval_note(points['seeds'])})", fontsize=10)
    save(fig, outs)
    return pd.concat(plotted).drop(columns=["fx", "fy"])


def tradeoff(summary: pd.DataFrame, x_benchmark: str, y_benchmark: str, families: Mapping[str, str],
             outs: Sequence[str | Path]) -> pd.DataFrame:
    """Reasoning (y) against safety (x) for the variants in ``families`` (variant: family), near points
    grouped, with the Pareto front per model; returns the plotted points and their groups."""
    return _scatter(summary, x_benchmark, y_benchmark, families, {},
                    "Safety tax: reasoning vs refusal of harmful requests", outs)


def downstream(summary: pd.DataFrame, x_benchmark: str, y_benchmark: str, families: Mapping[str, str],
               starts: Mapping[str, str], outs: Sequence[str | Path]) -> pd.DataFrame:
    """Downstream task score (y) against safety kept (x) for the variants in ``families``: those in ``starts``
    (variant: the variant it is fine-tuned from) and their starting models, ringed, with an arrow from each
    start; returns the plotted points and their groups."""
    return _scatter(summary, x_benchmark, y_benchmark, families, starts,
                    "Downstream fine-tuning: task score vs safety kept", outs)


@plt.rc_context(STYLE)
def ablation(summary: pd.DataFrame, variants: list[str], title: str, outs: Sequence[str | Path]) -> None:
    """Every benchmark's headline metric with its 95% interval across ``variants``, one panel per model."""
    table = seed_means(headline(summary))
    table = table[table["variant"].isin(variants)]
    models = list(dict.fromkeys(table["model"]))
    fig, axes = plt.subplots(1, len(models), figsize=(1.2 + 1.1 * len(variants) * len(models), 4.6), dpi=150,
                             squeeze=False, sharey=True, layout="constrained")
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
        ax.set_ylim(*_limits(rows["ci_low"], rows["ci_high"]))
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("value")
    axes[0][-1].legend(loc="best")
    fig.suptitle(f"{title}\n({interval_note(table['seeds'])})", fontsize=10)
    save(fig, outs)


@plt.rc_context(STYLE)
def epochs(table: pd.DataFrame, families: Mapping[str, str], outs: Sequence[str | Path]) -> None:
    """Each (model, benchmark) headline metric against the epoch, one panel each and one line per variant
    (coloured by its family in ``families``, with its own marker), with 95% intervals as bands: where along
    training the safety tax appears."""
    table = seed_means(headline(table), keys=(*KEYS, "epoch")).sort_values("epoch")
    panels = list(table[["model", "benchmark", "metric"]].drop_duplicates().itertuples(index=False))
    variants = list(dict.fromkeys(table["variant"]))
    colors = {variant: COLORS[families[variant]] for variant in variants}
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
            ax.plot(x, line["value"], marker=markers[variant], ms=4, color=colors[variant],
                    label=f"{variant} ({families[variant]})")
        ax.set_title(f"{model}: {benchmark}", fontsize=9)
        ax.set_xlabel("epoch (0: the model it starts from)" if (rows_of["epoch"] == 0).any() else "epoch")
        ax.set_ylabel(metric)
        ax.set_xticks(sorted(rows_of["epoch"].unique()))
        ax.set_ylim(*_limits(rows_of["ci_low"], rows_of["ci_high"]))
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    handles = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncol=min(len(handles), 4))
    fig.suptitle(f"Metrics along training ({interval_note(table['seeds'], 'bands')})", fontsize=10)
    save(fig, outs)


_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def _module_order(modules: pd.Series) -> pd.Series:
    return modules.map(lambda name: _MODULES.index(name) if name in _MODULES else len(_MODULES))


def family_means(table: pd.DataFrame, value: str, panel: Sequence[str],
                 bounds: tuple[float | None, float | None] = (None, None)) -> pd.DataFrame:
    """Per (``panel`` columns, family, layer): ``value`` averaged over the family's variants (each variant's
    value the mean over its modules at that layer), with a band: the 95% t-interval across seeds where there
    are several (``seed`` column), else the range over the family's variants. The band is cut to the
    statistic's ``bounds`` (lower, upper; None: unbounded), which a t-interval over a few seeds can cross
    where no seed does."""
    table = table if "seed" in table else table.assign(seed=0)
    per_variant = table.groupby([*panel, "family", "variant", "seed", "layer"])[value].mean().reset_index()
    per_seed = per_variant.groupby([*panel, "family", "seed", "layer"])[value].agg(
        value="mean", ci_low="min", ci_high="max").reset_index()
    return within_bounds(seed_means(per_seed, keys=[*panel, "family", "layer"]), "value", bounds)


@plt.rc_context(STYLE)
def _by_layer(table: pd.DataFrame, value: str, columns: str, title: str, ylabel: str, outs: Sequence[str | Path],
              bounds: tuple[float | None, float | None], logy: bool = False, rows: str = "model") -> None:
    """One panel per (``rows`` value, ``columns`` value); one line per method family over layers, with its
    band (``family_means`` within ``bounds``)."""
    means = family_means(table, value, [rows, columns], bounds)
    models, panels = list(dict.fromkeys(table[rows])), list(dict.fromkeys(table[columns]))
    families = [f for f in COLORS if f in set(table["family"])]
    fig, axes = plt.subplots(len(models), len(panels), figsize=(2.8 * len(panels), 2.6 * len(models) + 1.0),
                             dpi=150, squeeze=False, sharey="row", layout="constrained")
    for row, model in enumerate(models):
        for col, panel in enumerate(panels):
            ax = axes[row][col]
            selected = means[(means[rows] == model) & (means[columns] == panel)]
            for name in families:
                line = selected[selected["family"] == name].sort_values("layer")
                ax.fill_between(line["layer"], line["ci_low"], line["ci_high"], color=COLORS[name], alpha=0.2, lw=0)
                ax.plot(line["layer"], line["value"], "-o", color=COLORS[name], ms=3)
            ax.set_title(f"{model}: {panel}", fontsize=9)
            ax.set_xlabel("layer")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
            if logy:
                ax.set_yscale("log")
        axes[row][0].set_ylabel(ylabel)
    members = table.groupby("family")["variant"].unique()
    handles = [Line2D([], [], color=COLORS[f], marker="o", ms=3, label=f"{f}: {', '.join(sorted(members[f]))}")
               for f in families]
    fig.legend(handles=handles, fontsize=7, loc="outside lower center", ncol=min(len(handles), 2),
               title="method family: mean of its variants")
    note = interval_note(means["seeds"], "bands", "range over the family's variants")
    fig.suptitle(f"{title}\n({note})", fontsize=10)
    save(fig, outs)
def stable_rank_by_layer(geometry: pd.DataFrame, outs: Sequence[str | Path]) -> None:
    """Stable rank of the update per layer, one panel per module type (the LoRA-safety paper's Fig. 1)."""
    modules = geometry[geometry["k"] == geometry["k"].min()].sort_values("module", key=_module_order)  # one k each
    # ||dW||_F^2 / ||dW||_2^2 is at least 1.
    _by_layer(modules, "stable_rank", "module", "Stable rank of the update dW", "stable rank", outs, (1.0, None),
              logy=True)


def overlap_by_layer(geometry: pd.DataFrame, outs: Sequence[str | Path]) -> None:
    """Share of the update's energy in W0's top-k subspace per layer (mean over modules): a row of
    panels per (model, k), one panel per side (left, right, both)."""
    sides = ["overlap_left", "overlap_right", "overlap_both"]
    rows = geometry.sort_values(["model", "k"]).melt(id_vars=[c for c in geometry if c not in sides],
                                                      value_vars=sides, var_name="side", value_name="overlap")
    rows["side"] = rows["side"].str.removeprefix("overlap_")
    rows["subspace"] = rows["model"] + ", top-" + rows["k"].astype(str)
    _by_layer(rows, "overlap", "side", "Overlap of dW with W0's top-k singular subspace", "overlap", outs,
              (0.0, 1.0), rows="subspace")


@plt.rc_context(STYLE)
def alpha_sweep(summary: pd.DataFrame, sweeps: dict[str, dict[str, float]], benchmarks: list[str],
                outs: Sequence[str | Path]) -> None:
    """Each benchmark's headline metric against alpha in W0 + alpha dW, one line per (sweep, benchmark)."""
    table = seed_means(headline(summary))
    table = table[table["benchmark"].isin(benchmarks)]
    models = sorted(table["model"].unique())
    fig, axes = plt.subplots(1, len(models), figsize=(5.2 * len(models), 4.2), dpi=150, squeeze=False,
                             layout="constrained")
    for ax, model in zip(axes[0], models):
        shown = []
        for label, points in sweeps.items():
            alphas = pd.Series(points, name="alpha")
            rows = table[(table["model"] == model) & table["variant"].isin(alphas.index)]
            shown.append(rows.assign(alpha=rows["variant"].map(alphas)).sort_values("alpha"))
            for (benchmark, metric), group in shown[-1].groupby(["benchmark", "metric"]):
                error = [group["value"] - group["ci_low"], group["ci_high"] - group["value"]]
                ax.errorbar(group["alpha"], group["value"], yerr=error, marker="o", capsize=3,
                            label=f"{label}: {benchmark} {metric}")
        shown = pd.concat(shown)
        ax.set_title(model)
        ax.set_xlabel("alpha (W0 + alpha dW)")
        ax.set_ylabel("value")
        ax.set_ylim(*_limits(shown["ci_low"], shown["ci_high"]))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"Merge strength: safety and reasoning along alpha\n({interval_note(table['seeds'])})", fontsize=10)
    save(fig, outs)
