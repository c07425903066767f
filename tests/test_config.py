import subprocess
import sys
import time

import pytest
import yaml
from conftest import REPO

from taxfree.config.resolve import check_references, resolve_config, resolve_variant
from taxfree.config.schema import validate_config
from taxfree.core.errors import ConfigError


def default_config():
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    validate_config(config)
    return config


def ablation_config():
    """The default config with configs/toy_ablations.yaml merged over it, as `--configfile config.yaml
    configs/toy_ablations.yaml` does."""
    from snakemake.utils import update_config, validate

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    update_config(config, yaml.safe_load((REPO / "configs" / "toy_ablations.yaml").read_text()))
    validate(config, str(REPO / "schemas" / "config.schema.yaml"))
    return config


def test_variant_overrides_merge_over_defaults():
    config = default_config()
    full = resolve_variant(config, "full_lr3e-4")
    assert full["training"]["learning_rate"] == 3.0e-4
    assert full["training"]["num_train_epochs"] == config["training"]["num_train_epochs"]
    lora = resolve_variant(config, "lora_r1_up")
    assert lora["lora"] == {"rank": 1, "alpha": 2, "dropout": 0.05, "target_modules": ["up_proj"], "bias": "none",
                            "layers": None}
    assert resolve_variant(config, "base") == {"method": "none"}


def test_ablation_overlay_adds_the_grid_to_the_default_variants():
    from taxfree.config.resolve import resolve_config

    default = default_config()
    config = ablation_config()
    _, variants = resolve_config(config)
    assert set(default["variants"]) < set(variants) and len(variants) == 26
    # The default's variants are untouched, so the overlay reuses their results.
    assert all(resolve_variant(config, name) == resolve_variant(default, name) for name in default["variants"])
    assert set(config["figures"]["ablations"]) == {"rank", "module", "layers", "learning_rate"}
    assert {"tradeoff", "downstream"} <= set(config["figures"])
    listed = {v for axis in config["figures"]["ablations"].values() for v in axis["variants"]}
    assert listed <= set(variants)


def test_same_training_for_full_and_lora_r1_up():
    config = default_config()
    assert resolve_variant(config, "full")["training"] == resolve_variant(config, "lora_r1_up")["training"]
    assert resolve_variant(config, "full")["dataset"] == resolve_variant(config, "lora_r1_up")["dataset"]


@pytest.mark.parametrize("mutate, key", [
    (lambda c: c["variants"]["full"].setdefault("training", {}).update(learnin_rate=1.0), "variants.full.training"),
    (lambda c: c["variants"]["lora_r1_up"]["lora"].update(rank=0), "variants.lora_r1_up.lora.rank"),
    (lambda c: c["variants"]["full"].update(dataset="nope"), "variants.full.dataset"),
    (lambda c: c["benchmarks"]["toy_harmful"].update(judge="nope"), "benchmarks.toy_harmful.judge"),
    (lambda c: c["figures"]["tradeoff"].update(x="nope"), "figures.tradeoff.x"),
    (lambda c: c["variants"]["full"].update({"from": "nope"}), "variants.full.from"),
    (lambda c: c["variants"]["full"].update({"from": "full"}), "variants.full.from"),
    (lambda c: c["benchmarks"]["toy_reasoning"].update(pass_at_k=[4]), "benchmarks.toy_reasoning.pass_at_k"),
    (lambda c: c["benchmarks"]["toy_harmful"].update(pass_at_k=[1]), "benchmarks.toy_harmful.pass_at_k"),
    (lambda c: c["benchmarks"]["toy_harmful"].update(judge="strongreject_rubric"),
     "benchmarks.toy_harmful.judge_model.model"),
])
def test_bad_references_name_the_key(mutate, key):
    config = default_config()
    mutate(config)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        check_references(config)


@pytest.mark.parametrize("yaml_edit, words", [
    (("  generate_threads: 1", "  generate_threads: 1\n  gpus: 2"), ["resources.gpus", "unknown key"]),
    (("    category: safety", "    category: safety\n    temprature: 1.0"), ["benchmarks.toy_harmful.temprature", "did you mean 'temperature'"]),
    (("  toy:\n    source: toyworld", "  toy:\n    source: hubb"), ["hubb", "source"]),
    (("    max_new_tokens: 96", "    max_new_tokens: -1"), ["-1", "minimum"]),
    (("  learning_rate: 2.0e-3", "  learning_rate: .inf"), ["'training.learning_rate'", "not a finite number"]),
])
def test_bad_config_fails_fast_before_any_job(tmp_path, yaml_edit, words):
    text = (REPO / "config.yaml").read_text()
    assert yaml_edit[0] in text
    (tmp_path / "config.yaml").write_text(text.replace(yaml_edit[0], yaml_edit[1], 1))
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--snakefile", str(REPO / "Snakefile"),
                           "--directory", str(tmp_path)], capture_output=True, text=True)
    assert time.monotonic() - start < 30
    assert proc.returncode != 0
    for word in words:
        assert word in proc.stdout + proc.stderr
    # The key and the reason, and where Snakemake stopped: no schema dump.
    assert len((proc.stdout + proc.stderr).strip().splitlines()) <= 6
    assert not (tmp_path / "results").exists()


def test_variant_chains_resolve_and_loops_are_named():
    config = default_config()
    config["variants"]["full"]["from"] = "lora_r1_up"
    assert check_references(config)["full"]["from"] == "lora_r1_up"
    config["variants"]["lora_r1_up"]["from"] = "full"
    with pytest.raises(ConfigError, match="loop .*lora_r1_up -> full -> lora_r1_up"):
        check_references(config)


def test_chain_to_a_variant_another_model_lacks_is_rejected():
    config = default_config()
    config["models"]["other"] = {"source": "toyworld"}
    config["variants"]["lora_r1_up"]["models"] = ["toy"]
    config["variants"]["full"]["from"] = "lora_r1_up"
    with pytest.raises(ConfigError, match="'lora_r1_up' does not exist for model\\(s\\) other"):
        check_references(config)


def test_alpha_sweeps_run_from_the_base_to_the_trained_update():
    from taxfree.training.methods.merge import alpha_sweeps

    assert alpha_sweeps(check_references(default_config())) == {"full": {"base": 0.0, "full_alpha0.3": 0.3,
                                                                          "full": 1.0}}
    sweeps = alpha_sweeps(check_references(ablation_config()))
    assert sweeps["full"] == {"base": 0.0, "full_alpha0.3": 0.3, "full_alpha0.6": 0.6, "full": 1.0}
    assert sweeps["full projected k=8 one-sided"] == {"full_proj_k8": 1.0}


def test_ssah_without_a_judged_safety_benchmark_is_named():
    config = default_config()
    config["benchmarks"] = {"toy_reasoning": config["benchmarks"]["toy_reasoning"]}
    config["figures"] = {"tradeoff": {"x": "toy_reasoning", "y": "toy_reasoning"}, "ablations": {}}
    with pytest.raises(ConfigError, match="config key 'benchmarks': variants with `ssah` need a benchmark"):
        check_references(config)


@pytest.mark.parametrize("mutate, key", [
    (lambda c: c["training"].update(learning_rate=float("inf")), "training.learning_rate"),
    (lambda c: c["variants"]["full_lr3e-4"]["training"].update(weight_decay=float("nan")),
     "variants.full_lr3e-4.training.weight_decay"),
    (lambda c: c["benchmarks"]["toy_harmful"].update(temperature=-float("inf")), "benchmarks.toy_harmful.temperature"),
    (lambda c: c["variants"]["full"].setdefault("extra", [1.0, float("nan")]), "variants.full.extra.1"),
])
def test_non_finite_numbers_anywhere_are_rejected_naming_the_key(mutate, key):
    config = default_config()
    mutate(config)
    with pytest.raises(ConfigError, match=rf"config key '{key}': (inf|-inf|nan) is not a finite number"):
        resolve_config(config)
