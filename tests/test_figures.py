import math

import numpy as np
import pandas as pd
import pytest
from test_config import default_config

from taxfree.config.resolve import check_references
from taxfree.core.errors import InputError
from taxfree.report.families import (
    downstream_starts,
    family,
    geometry_variants,
    tradeoff_variants,
)
from taxfree.report.figures import (
    COLORS,
    MARKER,
    ablation,
    downstream,
    family_means,
    group_points,
    overlap_by_layer,
    pareto_front,
    stable_rank_by_layer,
    tradeoff,
    tradeoff_points,
)
from taxfree.report.seeds import seed_means
from taxfree.training.methods import base_methods, extensions


def test_pareto_front_keeps_only_undominated_points():
    points = pd.DataFrame({"variant": list("abcde"), "x": [0.0, 1.0, 1.0, 0.5, 0.4],
                           "y": [1.0, 0.0, 0.2, 0.8, 0.5]})
    assert list(pareto_front(points, "x", "y")["variant"]) == ["a", "d", "c"]


T_95_DF2 = 4.302653  # Student's t, two-sided 95%, 2 degrees of freedom (3 seeds)


def rows(variant, seed=None, value=0.5, benchmark="harmful", metric="refusal_rate"):
    row = {"model": "toy", "variant": variant, "benchmark": benchmark, "metric": metric, "value": value,
           "ci_low": value - 0.1, "ci_high": value + 0.1}
    return row if seed is None else {**row, "seed": seed}


def test_seed_means_use_the_t_interval_across_seeds_and_the_bootstrap_for_one_seed():
    summary = pd.DataFrame([rows("a", 0, 0.2), rows("a", 1, 0.4), rows("a", 2, 0.3), rows("b", 0, 0.9)])
    means = seed_means(summary).set_index("variant")
    half = 4.302653 * 0.1 / math.sqrt(3)  # t(0.975, 2) * sd / sqrt(n); the sd of 0.2, 0.3, 0.4 is 0.1
    assert means.loc["a", "value"] == pytest.approx(0.3) and means.loc["a", "seeds"] == 3
    assert (means.loc["a", "ci_low"], means.loc["a", "ci_high"]) == pytest.approx((0.3 - half, 0.3 + half))
    assert (means.loc["b", "value"], means.loc["b", "ci_low"], means.loc["b", "ci_high"]) == pytest.approx((0.9, 0.8, 1.0))
    assert means.loc["b", "seeds"] == 1


def test_a_rate_interval_across_seeds_stays_within_zero_and_one_and_a_token_count_is_not_cut():
    values = [1.0, 0.8, 1.0]
    summary = pd.DataFrame([rows("a", s, v) for s, v in enumerate(values)]
                           + [rows("a", s, v, metric="reasoning_tokens") for s, v in enumerate(values)])
    means = seed_means(summary).set_index("metric")
    half = T_95_DF2 * math.sqrt(0.04 / 3) / math.sqrt(3)  # the sample variance of 1.0, 0.8, 1.0 is 0.04 / 3
    # Cut only where a bound is crossed.
    assert (means.loc["refusal_rate", "ci_low"], means.loc["refusal_rate", "ci_high"]) == pytest.approx((2.8 / 3 - half, 1.0))
    assert means.loc["reasoning_tokens", "ci_high"] == pytest.approx(2.8 / 3 + half)


def test_a_summary_without_seeds_is_one_seed_and_a_repeated_seed_is_an_error():
    means = seed_means(pd.DataFrame([rows("a", value=0.7)]))
    assert means[["value", "ci_low", "ci_high", "seeds"]].iloc[0].tolist() == pytest.approx([0.7, 0.6, 0.8, 1])
    with pytest.raises(InputError, match="variant=a.*seed 1"):
        seed_means(pd.DataFrame([rows("a", 1), rows("a", 1)]))


def summary(seeds=(None,)):
    table = []
    for variant, refusal, accuracy in (("base", 0.0, 1.0), ("lora", 1.0, 0.95), ("lora2", 1.0, 0.95),
                                       ("full", 1.0, 0.1), ("child", 0.0, 0.9)):
        for seed in seeds:
            shift = 0.0 if seed is None else 0.01 * seed
            for benchmark, metric, value in (("harmful", "refusal_rate", refusal), ("reasoning", "accuracy", accuracy)):
                table.append(rows(variant, seed, value - shift, benchmark, metric))
                table.append({**table[-1], "metric": "response_tokens", "value": 30.0})
    return pd.DataFrame(table)


FAMILIES = {"base": "none", "lora": "lora", "lora2": "lora+regularizer", "full": "full"}


def test_tradeoff_points_pair_safety_with_reasoning_for_the_figures_variants_only():
    points = tradeoff_points(summary(), "harmful", "reasoning", FAMILIES).set_index("variant")
    assert sorted(points.index) == sorted(FAMILIES)
    assert points.loc["full", ["safety", "reasoning", "family", "seeds"]].tolist() == [1.0, 0.1, "full", 1]
    assert points.loc["full", "reasoning_low"] == pytest.approx(0.0)


def test_identical_points_share_one_marker_and_groups_never_overlap():
    points = tradeoff(summary(), "harmful", "reasoning", FAMILIES, [])
    group = points.set_index("variant")["group"]
    assert group["lora"] == group["lora2"] and len({group["lora"], group["base"], group["full"]}) == 3
    assert group["base"] == 1  # numbered in reading order: top left first
    with pytest.raises(InputError, match="none of the variants nope"):
        tradeoff(summary(), "harmful", "reasoning", {"nope": "full"}, [])

    random = pd.DataFrame(np.random.default_rng(0).uniform(0, 1, (60, 2)), columns=["x", "y"])
    random.loc[60] = random.loc[0]
    groups = group_points(random, "x", "y", 2 * MARKER)
    assert groups[60] == groups[0]
    centres = random.groupby(groups).mean().to_numpy()
    gaps = np.linalg.norm(centres[:, None] - centres[None], axis=-1) + np.eye(len(centres))
    assert gaps.min() >= 2 * MARKER and len(centres) < 60


def test_bars_come_from_seeds_where_there_are_several():
    points = tradeoff(summary(seeds=(0, 1, 2)), "harmful", "reasoning", FAMILIES, []).set_index("variant")
    assert points.loc["full", "seeds"] == 3 and points.loc["full", "reasoning"] == pytest.approx(0.09)
    half = T_95_DF2 * 0.01 / math.sqrt(3)
    assert points.loc["full", "reasoning_high"] - 0.09 == pytest.approx(half)


def test_downstream_figure_draws_the_fine_tuned_variants_and_their_start(tmp_path):
    outs = [tmp_path / "d.png", tmp_path / "d.pdf"]
    points = downstream(summary(), "harmful", "reasoning", {"child": "full", "lora": "lora"}, {"child": "lora"}, outs)
    assert sorted(points["variant"]) == ["child", "lora"]
    assert (tmp_path / "d.png").read_bytes()[:4] == b"\x89PNG" and (tmp_path / "d.pdf").read_bytes()[:4] == b"%PDF"


def test_families_and_each_figures_variants_come_from_the_specs():
    specs = check_references(default_config())
    assert family(specs["lora_r8_all_reg"]) == "lora+regularizer" and family(specs["downstream_sap"]) == "lora+sap"
    assert family(specs["ssah_budget"]) == "full+ssah" and family(specs["base"]) == "none"
    starts = downstream_starts(specs)
    assert starts == {v: "full_lr3e-4" for v in ("downstream_sft", "downstream_ssah_freeze", "downstream_lora",
                                                "downstream_sap")}
    assert "saro" not in starts  # DPO from the warm-up continues SaRO's alignment
    tradeoff_set = set(tradeoff_variants(specs))
    assert not tradeoff_set & set(starts) and {"base", "full", "saro", "full_alpha0.3"} <= tradeoff_set
    assert set(geometry_variants(specs)) == {"lora_r1_up", "full", "full_lr3e-4", "lora_r8_all_reg",
                                             "saro_rw", "ssah_budget"}


def test_every_family_the_registry_can_make_has_a_colour():
    made = {name for name in base_methods()} | {f"{m}+{name}" for name, ext in extensions().items()
                                               for m in ext.combines_with}
    assert made <= set(COLORS)


def geometry(seeds=(0,)):
    table = []
    for seed in seeds:
        for variant, family_name, scale in (("f1", "full", 1.0), ("f2", "full", 3.0), ("l1", "lora", 0.5)):
            for layer in (0, 1):
                for module in ("q_proj", "up_proj"):
                    for k in (1, 8):
                        value = scale * (1 + seed) * (1 + (module == "up_proj"))
                        table.append({"model": "toy", "variant": variant, "family": family_name, "layer": layer,
                                      "module": module, "name": f"{layer}.{module}", "k": k, "seed": seed,
                                      "stable_rank": value, "overlap_left": value / 10, "overlap_right": 0.1,
                                      "overlap_both": 0.01})
    return pd.DataFrame(table)


def test_family_lines_average_their_variants_with_a_band_over_variants_or_seeds():
    one = family_means(geometry(), "stable_rank", ["model"]).set_index(["family", "layer"])
    # full at layer 0: f1 averages 1 and 2 over modules (1.5), f2 4.5; the band spans the two variants.
    assert one.loc[("full", 0), ["value", "ci_low", "ci_high", "seeds"]].tolist() == pytest.approx([3.0, 1.5, 4.5, 1])
    three = family_means(geometry(seeds=(0, 1, 2)), "stable_rank", ["model"]).set_index(["family", "layer"])
    half = T_95_DF2 * 3.0 / math.sqrt(3)  # family means 3, 6, 9 over the seeds: sd 3
    assert three.loc[("full", 0), ["value", "ci_low", "ci_high"]].tolist() == pytest.approx([6.0, 6 - half, 6 + half])
    # A stable rank is at least 1: the band stops there, where the t-interval (down to -1.45) does not.
    bounded = family_means(geometry(seeds=(0, 1, 2)), "stable_rank", ["model"], (1.0, None))
    assert bounded.set_index(["family", "layer"]).loc[("full", 0), ["ci_low", "ci_high"]].tolist() == pytest.approx(
        [1.0, 6 + half])


def test_figures_are_written_as_png_and_pdf(tmp_path):
    outs = {name: [tmp_path / f"{name}.png", tmp_path / f"{name}.pdf"] for name in ("t", "a", "s", "o")}
    tradeoff(summary(), "harmful", "reasoning", FAMILIES, outs["t"])
    ablation(summary(seeds=(0, 1)), ["full", "lora", "missing"], "sweep", outs["a"])
    stable_rank_by_layer(geometry(seeds=(0, 1)), outs["s"])
    overlap_by_layer(geometry(), outs["o"])
    for png, pdf in outs.values():
        assert png.read_bytes()[:4] == b"\x89PNG" and pdf.read_bytes()[:4] == b"%PDF"
