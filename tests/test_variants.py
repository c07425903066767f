"""The variant spec: the authors' mode strings, layer ranges and thirds, module names, epochs by method."""

import pytest
from test_config import default_config

from taxfree.config.modes import parse_mode
from taxfree.config.resolve import resolve_variant
from taxfree.core.errors import ConfigError
from taxfree.core.models import expand_target_modules, resolve_layers
from taxfree.data.toyworld import build_model


@pytest.mark.parametrize("mode, expected", [
    ("full", {"method": "full"}),
    ("lora_qkvo_mlp_r64", {"method": "lora", "lora": {"rank": 64, "target_modules": ["all"]}}),
    ("lora_mlp_r4", {"method": "lora", "lora": {"rank": 4, "target_modules": ["mlp"]}}),
    ("lora_down_proj_only_r1", {"method": "lora", "lora": {"rank": 1, "target_modules": ["down_proj"]}}),
    ("lora_up_proj_only_from16_to31_r1",
     {"method": "lora", "lora": {"rank": 1, "target_modules": ["up_proj"], "layers": {"from": 16, "to": 31}}}),
])
def test_authors_mode_strings(mode, expected):
    assert parse_mode(mode, "variants.x.mode") == expected


def test_bad_mode_names_the_key():
    with pytest.raises(ConfigError, match=r"variants\.x\.mode.*lora_up_proj_r"):
        parse_mode("lora_up_proj_r1x", "variants.x.mode")


def test_mode_importer_prints_a_variant_that_resolves(capsys):
    import yaml

    from taxfree.cli import main

    assert main(["variant-from-mode", "lora_up_proj_only_from1_to2_r1"]) == 0
    config = default_config()
    config["variants"]["m"] = {**yaml.safe_load(capsys.readouterr().out), "dataset": "toy_refusal"}
    spec = resolve_variant(config, "m")
    assert spec["lora"]["layers"] == {"from": 1, "to": 2}
    assert spec["lora"]["rank"] == 1 and spec["lora"]["target_modules"] == ["up_proj"]


def test_a_mode_key_is_no_longer_a_second_way_to_write_a_variant():
    from taxfree.config.schema import validate_config

    config = default_config()
    config["variants"]["m"] = {"mode": "lora_mlp_r1", "dataset": "toy_refusal"}
    with pytest.raises(ConfigError, match=r"variants\.m\.mode': unknown key"):
        validate_config(config)


def test_epochs_default_to_the_papers_by_method():
    config = default_config()
    del config["training"]["num_train_epochs"]
    config["training"]["num_train_epochs"] = None
    assert resolve_variant(config, "full")["training"]["num_train_epochs"] == 5
    assert resolve_variant(config, "lora_r1_up")["training"]["num_train_epochs"] == 10


@pytest.fixture(scope="module")
def model48(toy_tokenizer):
    return build_model(toy_tokenizer, hidden_size=8, num_layers=48, intermediate_size=8, num_heads=1, seed=0)


def test_layer_thirds_of_a_48_layer_model(model48):
    assert resolve_layers(model48, "middle") == list(range(16, 32))  # the paper's headline 16-31 on the 14B
    assert resolve_layers(model48, "early") == list(range(0, 16))
    assert resolve_layers(model48, "late") == list(range(32, 48))
    assert resolve_layers(model48, {"from": 16, "to": 31}) == list(range(16, 32))
    assert resolve_layers(model48, None) is None


def test_layer_range_outside_the_model_names_its_size(model48):
    with pytest.raises(ValueError, match="which has 48 layers"):
        resolve_layers(model48, {"from": 40, "to": 48})


def test_unknown_module_lists_the_models_linear_modules(model48):
    assert expand_target_modules(model48, ["attn", "up_proj", "q_proj"]) == [
        "q_proj", "k_proj", "v_proj", "o_proj", "up_proj"]
    with pytest.raises(ValueError, match="up_projection.*down_proj, gate_proj, k_proj, o_proj, q_proj, up_proj, v_proj"):
        expand_target_modules(model48, ["up_projection"])


def test_an_adapter_trained_on_an_adapter_keeps_both_updates(tmp_path, toy_tokenizer):
    import torch
    from conftest import random_lora

    from taxfree.core.models import load_model, set_adapter_base
    from taxfree.data.toyworld import build_model

    base = build_model(toy_tokenizer, hidden_size=16, num_layers=1, intermediate_size=32, num_heads=2, seed=0)
    base.save_pretrained(tmp_path / "base")

    random_lora(load_model(tmp_path / "base"), tmp_path / "a", seed=1, std=0.5)
    parent = load_model(tmp_path / "a")  # merged: base + A
    child = random_lora(parent, tmp_path / "b", seed=2, std=0.5)
    set_adapter_base(tmp_path / "b", tmp_path / "a")
    ids = torch.tensor([[1, 2, 3, 4]])
    with torch.no_grad():
        expected = child(input_ids=ids).logits
        loaded = load_model(tmp_path / "b")(input_ids=ids).logits
        without_parent = load_model(tmp_path / "base")(input_ids=ids).logits
    torch.testing.assert_close(loaded, expected)
    assert not torch.allclose(loaded, without_parent, atol=1e-3)
