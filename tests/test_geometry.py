"""Weight geometry: stable rank, subspace overlap, the SVD cache, and updates of full and LoRA models."""

import pytest
import torch
from conftest import save_lora

from taxfree.analysis.geometry import ModelUpdate, analyse, overlaps, stable_rank, top_subspace

torch.set_num_threads(1)


def orthonormal(rows, cols, seed):
    return torch.linalg.qr(torch.randn(rows, cols, generator=torch.Generator().manual_seed(seed)))[0]


def spectrum_matrix(values, rows=20, cols=12, seed=0):
    """A rows x cols matrix with exactly these singular values."""
    k = len(values)
    return orthonormal(rows, k, seed) @ torch.diag(torch.tensor(values)) @ orthonormal(cols, k, seed + 1).T


@pytest.mark.parametrize("rank", [1, 3, 7])
def test_stable_rank_of_a_rank_r_matrix_with_equal_singular_values_is_r(rank):
    assert stable_rank(spectrum_matrix([2.0] * rank)) == pytest.approx(rank, rel=1e-5)


def test_stable_rank_weighs_singular_values():
    assert stable_rank(spectrum_matrix([3.0, 2.0, 1.0])) == pytest.approx((9 + 4 + 1) / 9, rel=1e-5)


def test_top_subspace_matches_the_exact_svd_and_is_cached(tmp_path):
    w0 = spectrum_matrix([10.0, 8.0, 6.0, 0.5, 0.4, 0.3, 0.2], rows=40, cols=30)
    sub = top_subspace(w0, 3, tmp_path, niter=4)
    assert torch.allclose(sub.S, torch.tensor([10.0, 8.0, 6.0]), atol=1e-4)
    U, _, Vh = torch.linalg.svd(w0)
    # Same subspaces (the vectors themselves are defined up to sign).
    assert torch.allclose(sub.U @ sub.U.T, U[:, :3] @ U[:, :3].T, atol=1e-4)
    assert torch.allclose(sub.V @ sub.V.T, Vh[:3].T @ Vh[:3], atol=1e-4)
    [cached] = list(tmp_path.iterdir())
    cached.write_bytes(b"")  # a cache hit must not recompute: it now fails to load
    with pytest.raises(Exception):
        top_subspace(w0, 3, tmp_path, niter=4)
    assert top_subspace(w0 + 1, 3, tmp_path, niter=4).S[0] > 10.0  # other weights, other entry


def test_overlap_inside_the_subspace_is_one_and_outside_is_zero():
    w0 = torch.randn(24, 16, generator=torch.Generator().manual_seed(0))
    sub = top_subspace(w0, 4)
    inside = sub.U @ torch.randn(4, 4) @ sub.V.T
    assert overlaps(inside, sub) == pytest.approx({"overlap_left": 1, "overlap_right": 1, "overlap_both": 1}, abs=1e-5)
    noise = torch.randn(24, 16)
    outside = (torch.eye(24) - sub.U @ sub.U.T) @ noise @ (torch.eye(16) - sub.V @ sub.V.T)
    assert overlaps(outside, sub) == pytest.approx({"overlap_left": 0, "overlap_right": 0, "overlap_both": 0}, abs=1e-6)
    left_only = sub.U @ torch.randn(4, 16)  # in the column space only
    measured = overlaps(left_only, sub)
    assert measured["overlap_left"] == pytest.approx(1, abs=1e-5) and measured["overlap_right"] < 0.9


def test_lora_update_is_peft_scaled_delta_and_keeps_its_rank(toy_base, tmp_path):
    peft_model = save_lora(toy_base, tmp_path / "adapter", rank=2)
    table = analyse(toy_base, tmp_path / "adapter", ks=[1, 4])
    assert sorted(table["name"].unique()) == [f"model.layers.{i}.mlp.up_proj" for i in range(2)]
    assert set(table["module"]) == {"up_proj"} and list(table["layer"].unique()) == [0, 1]
    assert (table["stable_rank"] <= 2 + 1e-4).all() and (table["stable_rank"] >= 1).all()
    layer = peft_model.base_model.model.model.layers[0].mlp.up_proj
    expected = (layer.lora_B["default"].weight @ layer.lora_A["default"].weight).detach() * 4 / 2  # alpha / r
    [update] = [u for u in ModelUpdate(toy_base, tmp_path / "adapter").linear() if u.name.endswith("0.mlp.up_proj")]
    assert torch.allclose(update.delta, expected, atol=1e-6)
    fro_norm = table.loc[table["name"] == update.name, "fro_norm"].iloc[0]
    assert fro_norm == pytest.approx(float(expected.norm()), rel=1e-5)


def test_full_update_covers_changed_modules_only(toy_base, tmp_path, toy_tokenizer):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(toy_base)
    down = model.model.layers[1].mlp.down_proj.weight
    delta = spectrum_matrix([1.0, 1.0, 1.0], rows=down.shape[0], cols=down.shape[1])
    with torch.no_grad():
        down += delta
    model.save_pretrained(tmp_path / "full")
    toy_tokenizer.save_pretrained(tmp_path / "full")
    table = analyse(toy_base, tmp_path / "full", ks=[2])
    assert list(table["name"]) == ["model.layers.1.mlp.down_proj"]
    row = table.iloc[0]
    assert row["stable_rank"] == pytest.approx(3, rel=1e-3)
    assert row["spectral_norm"] == pytest.approx(1, rel=1e-3) and row["fro_norm"] == pytest.approx(3 ** 0.5, rel=1e-3)
    assert 0 <= row["overlap_both"] <= min(row["overlap_left"], row["overlap_right"]) <= 1
