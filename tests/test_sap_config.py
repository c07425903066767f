"""configs/sap.yaml: SAP's published setting resolves and plans, once the user's two local files exist."""

import re

import yaml
from conftest import REPO
from test_paper_config import dry_run

SAP_CONFIG = REPO / "configs" / "sap.yaml"


def test_sap_grid_has_the_published_settings():
    from taxfree.config.resolve import resolve_config
    from taxfree.config.schema import validate_config

    config = yaml.safe_load(SAP_CONFIG.read_text())
    validate_config(config)
    variants = {name: v.spec for name, v in resolve_config(config)[1].items()}
    sap = variants["sap_alpaca"]
    assert sap["sap"]["layers"] == [3, 9] and sap["sap"]["rate"] == 2e-5 and sap["sap"]["probe_lr"] == 0.05
    assert sap["sap"]["max_pairs"] == 48 and sap["sap"]["pairs_batch_size"] == 8
    assert sap["sap"]["columns"] == {"prompt": "prompt", "chosen": "llama3_output", "rejected": "response"}
    for name in ("sap_alpaca", "lora_alpaca"):
        spec = variants[name]
        assert spec["lora"]["rank"] == 8 and spec["lora"]["alpha"] == 8 and spec["lora"]["dropout"] == 0.1
        assert spec["lora"]["target_modules"] == ["q_proj", "v_proj"]
        assert spec["training"]["learning_rate"] == 1e-4 and spec["training"]["num_train_epochs"] == 8
        assert spec["dataset"] == "alpaca_sap"
    assert "sap" not in variants["lora_alpaca"] and variants["base"]["method"] == "none"


def test_sap_grid_is_planned_with_the_users_files(tmp_path):
    config = yaml.safe_load(SAP_CONFIG.read_text())
    # The two files the user provides, here empty: planning does not read them.
    for path in ("alpaca_cleaned_1900.jsonl", "circuit_breakers_48.jsonl"):
        (tmp_path / path).touch()
    config["datasets"]["alpaca_sap"]["path"] = str(tmp_path / "alpaca_cleaned_1900.jsonl")
    config["variants"]["sap_alpaca"]["sap"]["pairs"] = str(tmp_path / "circuit_breakers_48.jsonl")
    (tmp_path / "sap.yaml").write_text(yaml.safe_dump(config))
    out = dry_run(tmp_path / "sap.yaml")
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", out, flags=re.M))
    assert counts["align"] == "2" and counts["fetch_model"] == "1" and counts["prepare_dataset"] == "1"
    assert counts["generate"] == "3"  # one job per variant answers the 4 benchmarks
    assert '"layers": [3, 9]' in out


def test_without_the_users_files_the_grid_plans_and_a_run_stops_naming_them(tmp_path):
    import subprocess
    import sys

    out = dry_run(REPO / "configs" / "sap.yaml")  # from the repository, where data/sap/ does not exist
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", out, flags=re.M))
    assert counts["user_file"] == "2" and "align" in counts
    run = subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--cores", "1",
                          "--configfile", str(REPO / "configs" / "sap.yaml"), "--directory", str(tmp_path),
                          "data/sap/circuit_breakers_48.jsonl"], capture_output=True, text=True)
    assert run.returncode != 0
    assert "data/sap/circuit_breakers_48.jsonl is missing: this config reads it and you provide it" in run.stderr
