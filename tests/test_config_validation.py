"""Schema errors name the key path, the reason and, for a typo, the key meant, in a line or two; validation
fills the defaults exactly as snakemake.utils.validate did."""

import copy

import pytest
import yaml
from conftest import REPO

from taxfree.config.resolve import resolve_config
from taxfree.config.schema import SCHEMA_PATH, validate_config
from taxfree.core.errors import ConfigError


def raw_config():
    return yaml.safe_load((REPO / "config.yaml").read_text())


def error_of(mutate) -> str:
    config = raw_config()
    mutate(config)
    with pytest.raises(ConfigError) as caught:
        validate_config(config)
    return str(caught.value)


def rename(block: dict, old: str, new: str) -> None:
    block[new] = block.pop(old)


@pytest.mark.parametrize("mutate, expected", [
    (lambda c: rename(c, "benchmarks", "benchmark"),
     "config key 'benchmark': unknown key (did you mean 'benchmarks'?)"),
    (lambda c: rename(c, "results_dir", "result_dir"),
     "config key 'result_dir': unknown key (did you mean 'results_dir'?)"),
    (lambda c: rename(c["benchmarks"]["toy_harmful"], "max_new_tokens", "max_new_token"),
     "config key 'benchmarks.toy_harmful.max_new_token': unknown key (did you mean 'max_new_tokens'?)"),
    (lambda c: c["benchmarks"]["toy_harmful"].update(judge_model={"modle": "x"}),
     "config key 'benchmarks.toy_harmful.judge_model.modle': unknown key (did you mean 'model'?)"),
    (lambda c: rename(c["variants"]["lora_r8_all_reg"]["regularizer"], "beta", "betta"),
     "config key 'variants.lora_r8_all_reg.regularizer.betta': unknown key (did you mean 'beta'?)"),
    (lambda c: rename(c["variants"]["full_alpha0.3"]["merge"], "alpha", "alpah"),
     "config key 'variants.full_alpha0.3.merge.alpah': unknown key (did you mean 'alpha'?)"),
    (lambda c: rename(c["variants"]["full"], "dataset", "datset"),
     "config key 'variants.full.datset': unknown key (did you mean 'dataset'?)"),
])
def test_a_typo_names_the_key_and_the_key_meant(mutate, expected):
    assert error_of(mutate) == expected


def test_an_unknown_key_with_no_close_match_lists_the_known_ones():
    message = error_of(lambda c: c["variants"]["full_alpha0.3"]["merge"].update(zzz=1))
    assert message.startswith("config key 'variants.full_alpha0.3.merge.zzz': unknown key (known: alpha, ")


@pytest.mark.parametrize("mutate, expected", [
    (lambda c: c["benchmarks"]["toy_harmful"].update(max_new_tokens="many"),
     "config key 'benchmarks.toy_harmful.max_new_tokens': 'many' is not of type 'integer'"),
    (lambda c: c["benchmarks"]["toy_harmful"].update(max_new_tokens=0),
     "config key 'benchmarks.toy_harmful.max_new_tokens': 0 is less than the minimum of 1"),
    (lambda c: c["variants"]["lora_r8_all_reg"]["regularizer"].update(beta="high"),
     "config key 'variants.lora_r8_all_reg.regularizer.beta': 'high' is not of type 'number'"),
    (lambda c: c["benchmarks"]["toy_harmful"].pop("category"),
     "config key 'benchmarks.toy_harmful.category': required key is missing"),
    (lambda c: c["benchmarks"]["toy_harmful"].update(hub="a/b"),
     "config key 'benchmarks.toy_harmful': needs exactly one of the keys path, hub, toyworld"),
])
def test_a_wrong_value_names_the_key_and_the_reason(mutate, expected):
    assert error_of(mutate) == expected


def test_a_large_wrong_value_is_cut_to_a_short_message():
    message = error_of(lambda c: c["benchmarks"].update(toy_harmful=[f"prompt number {i}" * 20 for i in range(500)]))
    assert message.startswith("config key 'benchmarks.toy_harmful': ['prompt numbe...")
    assert message.endswith("is not of type 'object'")
    assert len(message.splitlines()) == 1 and len(message) < 250


def test_overrides_checked_after_merging_get_the_same_messages():
    config = raw_config()
    config["variants"]["lora_r8_all_reg"]["lora"]["rnak"] = 2
    validate_config(config)  # a variant's lora block is an override, checked once merged
    with pytest.raises(ConfigError, match=r"^config key 'variants\.lora_r8_all_reg\.lora\.rnak': unknown key "
                                          r"\(did you mean 'rank'\?\)$"):
        resolve_config(config)


@pytest.mark.parametrize("name", ["config.yaml", "configs/paper.yaml", "configs/sap.yaml", "configs/smoke.yaml"])
def test_defaults_are_filled_as_snakemake_validate_filled_them(name):
    from snakemake.utils import validate

    ours = yaml.safe_load((REPO / name).read_text())
    theirs = copy.deepcopy(ours)
    validate_config(ours)
    validate(theirs, str(SCHEMA_PATH))
    assert ours == theirs
    resolved, variants = resolve_config(ours)
    resolved_before, variants_before = resolve_config(theirs)
    assert resolved == resolved_before
    assert {n: (v.spec, v.models) for n, v in variants.items()} == \
        {n: (v.spec, v.models) for n, v in variants_before.items()}


def test_validation_leaves_the_schema_unchanged():
    from taxfree.config.schema import load_schema

    before = copy.deepcopy(load_schema())
    config = raw_config()
    validate_config(config)
    config["toyworld"]["architecture"]["hidden_size"] = 7  # a filled default is the config's own copy
    assert load_schema() == before
