"""configs/saro.yaml: SaRO's two stages and its shortest-sampling variant resolve and plan, once the user's
two local files exist."""

import re

import yaml
from conftest import REPO
from test_paper_config import dry_run

SARO_CONFIG = REPO / "configs" / "saro.yaml"


def test_saro_grid_has_its_stages_and_the_shortest_variant_apart():
    from snakemake.utils import validate

    from taxfree.config.resolve import resolve_config
    from taxfree.config.schema import SCHEMA_PATH

    config = yaml.safe_load(SARO_CONFIG.read_text())
    validate(config, str(SCHEMA_PATH))
    variants = {name: v.spec for name, v in resolve_config(config)[1].items()}
    assert variants["saro_rw"]["method"] == "full" and variants["saro_rw"]["dataset"] == "saro_warmup"
    for name in ("saro", "saro_shortest"):
        assert variants[name]["method"] == "dpo" and variants[name]["from"] == "saro_rw"
        assert variants[name]["dpo"]["beta"] == 0.1 and variants[name]["dpo"]["sft_weight"] == 0.0
    assert config["datasets"]["saro_pairs"]["pairs"]["shortest"] is False
    assert config["datasets"]["saro_pairs_shortest"]["pairs"]["shortest"] is True
    assert variants["saro_shortest"]["dataset"] == "saro_pairs_shortest"


def test_saro_grid_is_planned_with_the_users_files(tmp_path):
    config = yaml.safe_load(SARO_CONFIG.read_text())
    # The two files the user provides, here empty: planning does not read them.
    for name in ("warmup.jsonl", "candidates.jsonl"):
        (tmp_path / name).touch()
    config["datasets"]["saro_warmup"]["path"] = str(tmp_path / "warmup.jsonl")
    for name in ("saro_pairs", "saro_pairs_shortest"):
        config["datasets"][name]["path"] = str(tmp_path / "candidates.jsonl")
    (tmp_path / "saro.yaml").write_text(yaml.safe_dump(config))
    out = dry_run(tmp_path / "saro.yaml")
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", out, flags=re.M))
    assert counts["align"] == str(2 * 3) and counts["build_pairs"] == "2" and counts["fetch_model"] == "2"
    assert counts["generate"] == str(2 * 4)  # one job per (model, variant) answers the 3 benchmarks
