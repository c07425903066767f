"""configs/ssah.yaml: SSAH's published setting resolves and plans offline (every data set is on the hub)."""

import re

import yaml
from conftest import REPO
from test_paper_config import dry_run

SSAH_CONFIG = REPO / "configs" / "ssah.yaml"


def resolved():
    from snakemake.utils import validate

    from taxfree.config.resolve import resolve_config
    from taxfree.config.schema import SCHEMA_PATH

    config = yaml.safe_load(SSAH_CONFIG.read_text())
    validate(config, str(SCHEMA_PATH))
    return config, {name: v.spec for name, v in resolve_config(config)[1].items()}


def test_ssah_grid_freezes_the_published_share_and_spends_the_published_budget():
    config, variants = resolved()
    assert config["models"]["llama2_7b_chat"]["id"] == "meta-llama/Llama-2-7b-chat-hf"
    for name in ("dolly_ssah_freeze", "alpaca_ssah_freeze"):
        ssah = variants[name]["ssah"]
        assert ssah["freeze"] == ["scu", "top_cu"] and not ssah["freeze_other"]
        # SCU 1.3% + top CU 6.2%: the 7.5% of units the paper freezes.
        assert round(ssah["scu_fraction"] + ssah["top_cu_fraction"], 4) == 0.075
        assert ssah["n_calibration"] == 100
        assert ssah["safety_path"].endswith("harmful_refusals.jsonl")
    assert {variants[v]["dataset"] for v in ("dolly_full", "dolly_ssah_freeze")} == {"dolly"}
    assert {variants[v]["dataset"] for v in ("alpaca_full", "alpaca_ssah_freeze")} == {"alpaca"}
    budget = variants["budget_ssah"]["ssah"]
    assert budget["freeze"] == ["scu", "ucu", "cu"] and budget["freeze_other"] and budget["ru_fraction"] == 0.20
    assert "from" not in variants["budget_ssah"]  # scored and trained from the pre-trained model itself


def test_ssah_safety_calibration_is_harmful_prompts_only():
    config, _ = resolved()
    harmful = config["datasets"]["harmful_refusals"]
    assert harmful["hub"] == "TianshengHuang/DirectRefusal" and harmful["max_rows"] == 100


def test_ssah_grid_is_planned_offline():
    out = dry_run(SSAH_CONFIG)
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", out, flags=re.M))
    # base on both models, 4 downstream variants on the chat model, 2 budget variants on the base model.
    assert counts["align"] == "6" and counts["fetch_model"] == "2" and counts["ssah_analysis"] == "3"
    assert counts["generate"] == "8" and counts["prepare_dataset"] == "5"
