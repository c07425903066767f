"""The downstream stage's config and data: the toy skill, the harmful mix, `ssah`/`sap` blocks."""

import pytest
from test_config import default_config

from taxfree.config.resolve import check_references, resolve_variant
from taxfree.core.errors import ConfigError, InputError
from taxfree.data.datasets import mix_rows


def test_downstream_splits_leave_the_rest_of_the_world_and_its_vocabulary_alone(toy_spec, toy_splits):
    from taxfree.data.toyworld import digit_sum_problem, vocabulary

    new = ("reasoning", "downstream", "toy_downstream", "harmful_compliance", "safety_pairs")
    rest = {k: v for k, v in toy_splits.items() if k not in new}
    assert vocabulary(toy_splits) == vocabulary(rest)
    train = {r["prompt"][0]["content"] for r in toy_splits["downstream"]}
    assert not train & {r["prompt"] for r in toy_splits["toy_downstream"]}
    assert len(toy_splits["toy_downstream"]) == toy_spec.n_downstream_eval
    harmful_eval = {r["topic"] for r in toy_splits["toy_harmful"]}
    mixed_topics = {" ".join(r["prompt"][0]["content"].split()[-3:-1]) for r in toy_splits["harmful_compliance"]}
    assert mixed_topics and not mixed_topics & harmful_eval
    import random

    text, steps, answer = digit_sum_problem(random.Random(1), 3, 3)
    digits = [int(d) for d in text.split(" , ")]
    assert int(answer) == sum(digits) % 10 and steps.count(" and ") == 2


def test_mix_adds_the_fraction_of_distinct_extra_rows():
    rows = [{"id": i} for i in range(90)]
    extra = [{"extra": i} for i in range(50)]
    mixed = mix_rows(rows, extra, 0.1, seed=0)
    assert len(mixed) == 100 and sum("extra" in r for r in mixed) == 10
    assert len({r["extra"] for r in mixed if "extra" in r}) == 10
    assert mixed == mix_rows(rows, extra, 0.1, seed=0) and mixed != mix_rows(rows, extra, 0.1, seed=1)
    with pytest.raises(InputError, match="only 50"):
        mix_rows(rows, extra, 0.5, seed=0)


def test_default_downstream_variants_resolve_with_their_data():
    config = default_config()
    specs = check_references(config)
    assert {specs[v]["from"] for v in ("downstream_sft", "downstream_sap", "downstream_ssah_freeze")} == {"full_lr3e-4"}
    ssah = specs["downstream_ssah_freeze"]["ssah"]
    assert ssah["freeze"] == ["scu", "top_cu"] and ssah["safety_path"] == "results/seed{seed}/datasets/toy_harmful_refusal.jsonl"
    assert specs["downstream_sap"]["sap"]["rate"] == 2e-5
    assert specs["downstream_sap"]["sap"]["columns"] == {"prompt": "prompt", "chosen": "chosen", "rejected": "rejected"}


def test_default_downstream_task_is_benign_only_and_the_attack_overlay_mixes_in_harm():
    import yaml
    from conftest import REPO
    from snakemake.utils import update_config

    default = default_config()
    assert "mix" not in default["datasets"]["toy_downstream_task"]
    config = default_config()
    update_config(config, yaml.safe_load((REPO / "configs" / "toy_attack.yaml").read_text()))
    specs = check_references(config)
    attack = config["datasets"]["toy_downstream_attack"]
    assert attack["toyworld"] == "downstream" and attack["mix"] == {"dataset": "toy_harmful_compliance", "fraction": 0.1}
    # Each attack variant is its default twin on the mixed data, and the default's variants are untouched.
    twins = {"attack_sft": "downstream_sft", "attack_ssah_freeze": "downstream_ssah_freeze",
             "attack_lora": "downstream_lora", "attack_sap": "downstream_sap"}
    for attack, twin in twins.items():
        assert specs[attack] == {**resolve_variant(default, twin), "dataset": "toy_downstream_attack"}
    assert all(resolve_variant(config, v) == resolve_variant(default, v) for v in default["variants"])


@pytest.mark.parametrize("variant, key", [
    ({"method": "lora", "ssah": {"safety_data": "toy_refusal", "utility_data": "toy_refusal"}}, "x.ssah"),
    ({"method": "full", "sap": {"pairs": "p.jsonl", "layers": [0]}}, "x.sap"),
    ({"method": "lora", "training": {"gradient_accumulation_steps": 2}, "sap": {"pairs": "p.jsonl", "layers": [0]}},
     "x.training.gradient_accumulation_steps"),
    ({"method": "lora", "training": {"precision": "fp16"}, "sap": {"pairs": "p.jsonl", "layers": [0]}},
     "x.training.precision"),
    ({"method": "full", "ssah": {"safety_data": "nope", "utility_data": "toy_refusal"}}, "x.ssah.safety_data"),
])
def test_bad_keeper_blocks_name_the_key(variant, key):
    config = default_config()
    config["variants"]["x"] = {"dataset": "toy_refusal", **variant}
    with pytest.raises(ConfigError, match=rf"'variants\.{key}'"):
        resolve_variant(config, "x")


def test_mix_of_an_unknown_data_set_names_the_key():
    config = default_config()
    config["datasets"]["toy_downstream_task"]["mix"] = {"dataset": "nope", "fraction": 0.1}
    with pytest.raises(ConfigError, match=r"'datasets\.toy_downstream_task\.mix\.dataset'"):
        check_references(config)


def test_downstream_figure_plots_only_the_given_variants(tmp_path):
    import pandas as pd

    from taxfree.report.figures import downstream

    rows = [{"model": "toy", "variant": v, "benchmark": b, "metric": m, "value": x, "ci_low": x, "ci_high": x}
            for v, h, d in [("lora_r1_up", 1.0, 0.2), ("downstream_sft", 0.0, 0.9), ("full", 1.0, 0.0)]
            for b, m, x in [("toy_harmful", "refusal_rate", h), ("toy_downstream", "accuracy", d)]]
    points = downstream(pd.DataFrame(rows), "toy_harmful", "toy_downstream",
                        {"lora_r1_up": "lora", "downstream_sft": "full"}, {"downstream_sft": "lora_r1_up"},
                        [tmp_path / "d.png", tmp_path / "d.pdf"])
    assert sorted(points["variant"]) == ["downstream_sft", "lora_r1_up"]
    assert (tmp_path / "d.png").stat().st_size > 10_000
    assert (tmp_path / "d.pdf").read_bytes()[:4] == b"%PDF"
