"""Overlap regularizers: each penalty's value and gradient against a direct computation; the trainer's loss."""

import pytest
import torch

from taxfree.analysis.geometry import top_subspace
from taxfree.config.schema import training_defaults
from taxfree.training.methods.regularizer.trainer import KINDS, OverlapSFTTrainer, overlap_penalty

torch.set_num_threads(1)


def direct_penalty(B, A, U, S, V, kind, norm):
    """docs/lora-safety.md's formulas, written out on the full dW = B A."""
    dW = B @ A
    left = {"column": torch.diag(S) @ U.T, "uniform": U.T, "row": None, "both": torch.diag(S) @ U.T}[kind]
    right = {"column": None, "uniform": None, "row": V @ torch.diag(S), "both": V @ torch.diag(S)}[kind]
    if norm and kind != "uniform":  # the authors normalise only the weighted spans
        left = None if left is None else left / torch.linalg.norm(left)
        right = None if right is None else right / torch.linalg.norm(right)
    product = dW
    if left is not None:
        product = left @ product
    if right is not None:
        product = product @ right
    value = torch.linalg.norm(product) ** 2
    return value / (torch.linalg.norm(dW) ** 2 + 1e-8) if norm else value


@pytest.mark.parametrize("norm", [False, True], ids=["plain", "norm"])
@pytest.mark.parametrize("kind", KINDS)
def test_penalty_value_and_gradient_match_direct_autograd(kind, norm):
    gen = torch.Generator().manual_seed(0)
    w0 = torch.randn(12, 9, generator=gen, dtype=torch.float64)
    sub = top_subspace(w0, 3)
    sub = type(sub)(*(t.double() for t in (sub.U, sub.S, sub.V)))
    B = torch.randn(12, 2, generator=gen, dtype=torch.float64, requires_grad=True)
    A = torch.randn(2, 9, generator=gen, dtype=torch.float64, requires_grad=True)
    ours = overlap_penalty(B, A, sub, kind, norm)
    grads = torch.autograd.grad(ours, (B, A))
    direct = direct_penalty(B, A, sub.U, sub.S, sub.V, kind, norm)
    expected = torch.autograd.grad(direct, (B, A))
    assert ours.item() == pytest.approx(direct.item(), rel=1e-10) and ours.item() > 0
    for got, want in zip(grads, expected):
        assert torch.allclose(got, want, rtol=1e-9, atol=1e-12)


def test_penalty_is_zero_outside_the_subspace():
    w0 = torch.randn(12, 9, generator=torch.Generator().manual_seed(1))
    sub = top_subspace(w0, 3)
    B = (torch.eye(12) - sub.U @ sub.U.T) @ torch.randn(12, 2)
    A = torch.randn(2, 9) @ (torch.eye(9) - sub.V @ sub.V.T)
    for kind in KINDS:
        assert float(overlap_penalty(B, A, sub, kind)) == pytest.approx(0, abs=1e-8)


def test_uniform_norm_form_is_the_share_of_energy_in_the_top_subspace():
    """The authors' uniform norm form: ||U_k^T dW||^2 / ||dW||^2, with U_k^T not rescaled (rescaling it by its
    Frobenius norm sqrt(k) would divide the penalty by k)."""
    U = torch.eye(4)[:, :2]  # W0's top-2 left subspace: the first two coordinates
    sub = type(top_subspace(torch.eye(4), 2))(U, torch.tensor([3.0, 2.0]), torch.eye(4)[:, :2])
    B = torch.tensor([[1.0], [1.0], [1.0], [1.0]])  # dW's columns spread evenly: half the energy in the subspace
    A = torch.tensor([[2.0, 0.0, 0.0, 0.0]])
    assert float(overlap_penalty(B, A, sub, "uniform", norm=True)) == pytest.approx(0.5, rel=1e-6)
    assert float(overlap_penalty(B, A, sub, "uniform", norm=False)) == pytest.approx(8.0)
    # The weighted column form keeps its normalised span S U^T / sqrt(9 + 4): (9 * 4 + 4 * 4) / 13 / 16.
    assert float(overlap_penalty(B, A, sub, "column", norm=True)) == pytest.approx(0.25, rel=1e-6)


def test_unknown_kind_is_named():
    with pytest.raises(ValueError, match="regularizer kind 'rows'"):
        overlap_penalty(torch.ones(2, 1), torch.ones(1, 2), top_subspace(torch.eye(2), 1), "rows")


@pytest.fixture
def trainer_parts(tmp_path, toy_splits, toy_tokenizer):
    from peft import LoraConfig

    from taxfree.core.io import write_jsonl
    from taxfree.data.datasets import load_sft_dataset
    from taxfree.data.toyworld import build_model
    from taxfree.training.methods.sft import sft_arguments

    write_jsonl(tmp_path / "data.jsonl", toy_splits["refusal"][:8])
    training = {**training_defaults(), "num_train_epochs": 1, "max_length": 64, "precision": "fp32",
                "per_device_train_batch_size": 4, "save_strategy": "no"}
    return dict(model=build_model(toy_tokenizer, hidden_size=16, num_layers=2, intermediate_size=32, num_heads=2,
                                  seed=0),
                args=sft_arguments(training, tmp_path / "out"),
                train_dataset=load_sft_dataset(tmp_path / "data.jsonl", toy_tokenizer, training["max_length"],
                                               training["max_overlong_fraction"]),
                processing_class=toy_tokenizer,
                peft_config=LoraConfig(r=2, lora_alpha=4, lora_dropout=0.0,
                                       target_modules=["gate_proj", "up_proj", "down_proj"]))


def test_trainer_loss_is_sft_loss_plus_beta_times_penalty(trainer_parts, tmp_path):
    from trl import SFTTrainer

    regularizer = {"kind": "column", "norm": False, "target_modules": ["up_proj", "down_proj"], "beta": 0.5, "k": 3,
                   "svd_cache": str(tmp_path / "svd")}
    trainer = OverlapSFTTrainer(**trainer_parts, regularizer=regularizer)
    assert len(trainer.targets) == 4  # up and down in 2 layers; gate is adapted but not penalised
    assert len(list((tmp_path / "svd").iterdir())) == 4
    torch.manual_seed(0)
    for name, param in trainer.model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(param, std=0.5)
    manual = sum(overlap_penalty(B, A, top_subspace(layer.get_base_layer().weight, 3), "column")
                 for name, layer in trainer.model.named_modules()
                 if name.endswith(("up_proj", "down_proj")) and hasattr(layer, "lora_A")
                 for B, A in [(layer.lora_B["default"].weight, layer.lora_A["default"].weight)])
    assert float(trainer.overlap_penalty()) == pytest.approx(float(manual), rel=1e-5) and float(manual) > 0
    batch = next(iter(trainer.get_train_dataloader()))
    trainer.model.train()
    regularized = trainer.compute_loss(trainer.model, dict(batch))
    plain = SFTTrainer.compute_loss(trainer, trainer.model, dict(batch))
    assert float(regularized - plain) == pytest.approx(0.5 * float(manual), rel=1e-4)
    assert trainer._metrics["train"]["overlap_penalty"] == [pytest.approx(float(manual), rel=1e-5)]


def test_trainer_rejects_targets_without_adapters(trainer_parts, tmp_path):
    regularizer = {"kind": "column", "norm": False, "target_modules": ["q_proj"], "beta": 1.0, "k": 2,
                   "svd_cache": None}
    with pytest.raises(ValueError, match="no LoRA module"):
        OverlapSFTTrainer(**trainer_parts, regularizer=regularizer)


def test_config_resolves_the_regularizer_with_defaults_and_the_svd_cache():
    from test_config import default_config

    from taxfree.config.resolve import resolve_variant

    config = default_config()
    config["variants"]["r"] = {"method": "lora", "dataset": "toy_refusal", "lora": {"target_modules": ["mlp"]},
                               "regularizer": {"norm": True}}
    assert resolve_variant(config, "r")["regularizer"] == {
        "kind": "column", "norm": True, "target_modules": ["gate_proj", "up_proj", "down_proj"], "beta": 0.01, "k": 16,
        "svd_cache": "results/svd_cache"}


@pytest.mark.parametrize("variant, key", [
    ({"method": "full", "dataset": "toy_refusal", "regularizer": {}}, "variants.r.regularizer"),
    ({"method": "lora", "dataset": "toy_refusal", "lora": {"target_modules": ["up_proj"]}, "regularizer": {}},
     "variants.r.regularizer.target_modules"),
    ({"method": "lora", "dataset": "toy_refusal", "regularizer": {"kind": "rows"}}, "variants.r.regularizer.kind"),
    ({"method": "lora", "dataset": "toy_refusal", "regularizer": {"beta": -1}}, "variants.r.regularizer.beta"),
])
def test_bad_regularizer_config_names_the_key(variant, key):
    from test_config import default_config

    from taxfree.config.resolve import resolve_variant
    from taxfree.core.errors import ConfigError

    config = default_config()
    config["variants"]["r"] = variant
    with pytest.raises(ConfigError, match=f"config key '{key}'"):
        resolve_variant(config, "r")
