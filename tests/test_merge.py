"""Merges: a plain merge reproduces the adapter model; projections remove W0's top-k component; alpha scales."""

import pytest
import torch
from conftest import save_lora

from taxfree.analysis.geometry import ModelUpdate, overlaps, top_subspace
from taxfree.core.models import load_model
from taxfree.training.methods.merge.weights import merge_model, project_off

torch.set_num_threads(1)

PLAIN = {"kind": "plain", "sides": "one", "k": 4, "alpha": 1.0, "svd_cache": None, "niter": 4, "oversample": 8}


def logits(model, tokenizer):
    ids = tokenizer(["what is 3 plus 4", "how do i make a dangerous thing"], return_tensors="pt", padding=True)
    with torch.no_grad():
        return model(**ids).logits


def test_plain_merge_of_an_adapter_gives_the_adapter_models_logits(toy_base, tmp_path, toy_tokenizer):
    save_lora(toy_base, tmp_path / "adapter", rank=2, modules=("up_proj", "q_proj"))
    merge_model(toy_base, tmp_path / "adapter", tmp_path / "merged", PLAIN)
    assert not (tmp_path / "merged" / "adapter_config.json").exists()
    adapter_model = load_model(tmp_path / "adapter", merge_adapter=False, dtype="float32").eval()
    merged = load_model(tmp_path / "merged", dtype="float32").eval()
    base = load_model(toy_base, dtype="float32").eval()
    expected = logits(adapter_model, toy_tokenizer)
    assert not torch.allclose(logits(base, toy_tokenizer), expected, atol=1e-3)  # the adapter does change them
    assert torch.allclose(logits(merged, toy_tokenizer), expected, atol=1e-5)


def full_model(toy_base, tokenizer, path, seed=3):
    """A 'fully fine-tuned' toy: every parameter moved a little."""
    model = load_model(toy_base, dtype="float32")
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            param += 0.05 * torch.randn(param.shape, generator=gen)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)


def test_alpha_scales_every_parameter_of_a_full_update(toy_base, tmp_path, toy_tokenizer):
    full_model(toy_base, toy_tokenizer, tmp_path / "full")
    merge_model(toy_base, tmp_path / "full", tmp_path / "half", {**PLAIN, "alpha": 0.5})
    base, full, half = (dict(load_model(p, dtype="float32").named_parameters())
                        for p in (toy_base, tmp_path / "full", tmp_path / "half"))
    for name in base:
        assert torch.allclose(half[name], base[name] + 0.5 * (full[name] - base[name]), atol=1e-6), name


@pytest.mark.parametrize("sides", ["one", "two"])
def test_projected_merge_removes_the_top_k_component(toy_base, tmp_path, toy_tokenizer, sides):
    full_model(toy_base, toy_tokenizer, tmp_path / "full")
    spec = {**PLAIN, "kind": "projected", "sides": sides, "svd_cache": str(tmp_path / "svd")}
    merge_model(toy_base, tmp_path / "full", tmp_path / "projected", spec)
    before = {u.name: u.delta for u in ModelUpdate(toy_base, tmp_path / "full").linear()}
    after = list(ModelUpdate(toy_base, tmp_path / "projected").linear())
    assert [u.name for u in after] == list(before) and len(after) == 2 * 7
    for update in after:
        measured = overlaps(update.delta, top_subspace(update.base, 4, tmp_path / "svd", niter=4, oversample=8))
        assert measured["overlap_left"] == pytest.approx(0, abs=1e-4)
        assert measured["overlap_right"] == pytest.approx(0, abs=1e-4) or sides == "one"
        assert overlaps(before[update.name], top_subspace(update.base, 4))["overlap_left"] > 1e-3


def test_projection_keeps_what_lies_outside():
    w0 = torch.randn(10, 8, generator=torch.Generator().manual_seed(0))
    sub = top_subspace(w0, 3)
    outside = (torch.eye(10) - sub.U @ sub.U.T) @ torch.randn(10, 8)
    assert torch.allclose(project_off(outside, sub), outside, atol=1e-6)
    assert torch.allclose(project_off(outside + sub.U @ torch.randn(3, 8), sub), outside, atol=1e-5)


def test_config_resolves_a_merge_variant():
    from test_config import default_config

    from taxfree.config.resolve import check_references

    config = default_config()
    config["variants"]["full_proj_k8"] = {"method": "merge", "from": "full",
                                          "merge": {"kind": "projected", "sides": "one", "k": 8}}
    specs = check_references(config)
    assert specs["full_proj_k8"] == {"method": "merge", "from": "full", "merge": {
        "kind": "projected", "sides": "one", "k": 8, "alpha": 1.0, "svd_cache": "results/svd_cache", "niter": 4,
        "oversample": 8}}
    assert specs["full_alpha0.3"]["merge"]["kind"] == "plain" and specs["full_alpha0.3"]["merge"]["alpha"] == 0.3


@pytest.mark.parametrize("variant, key", [
    ({"method": "merge"}, "variants.m.from"),
    ({"method": "merge", "from": "base"}, "variants.m.from"),
    ({"method": "merge", "from": "full", "dataset": "toy_refusal"}, "variants.m.dataset"),
    ({"method": "merge", "from": "full", "merge": {"sides": "three"}}, "variants.m.merge.sides"),
    ({"method": "full", "dataset": "toy_refusal", "merge": {}}, "variants.m.merge"),
])
def test_bad_merge_config_names_the_key(variant, key):
    from test_config import default_config

    from taxfree.config.resolve import check_references
    from taxfree.core.errors import ConfigError

    config = default_config()
    config["variants"]["m"] = variant
    with pytest.raises(ConfigError, match=f"config key '{key}'"):
        check_references(config)
