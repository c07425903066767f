"""SSAH: fluctuation scores, unit types, pruning and training with units frozen, on a tiny Llama."""

import pytest
import torch


@pytest.fixture
def tiny(toy_tokenizer):
    from taxfree.data.toyworld import build_model

    torch.set_num_threads(1)
    return build_model(toy_tokenizer, hidden_size=16, num_layers=2, intermediate_size=24, num_heads=2, seed=0)


@pytest.fixture
def batches(toy_splits, toy_tokenizer):
    from taxfree.data.datasets import render

    texts = [t["prompt"] + t["completion"] for t in (render(row, toy_tokenizer) for row in toy_splits["refusal"][:6])]
    return [dict(toy_tokenizer(texts[i:i + 3], return_tensors="pt", padding=True, add_special_tokens=False))
            for i in (0, 3)]


def test_blocks_pair_rows_of_a_with_columns_of_b(tiny):
    from taxfree.training.methods.ssah.units import find_blocks

    blocks = {b.name: b for b in find_blocks(tiny)}
    assert len(blocks) == 4
    mlp = blocks["model.layers.0.mlp.down_proj"]
    assert sorted(n.rsplit(".", 1)[1] for n in mlp.a) == ["gate_proj", "up_proj"]
    assert all(m.out_features == mlp.b.in_features == 24 for m in mlp.a.values())


def test_fluctuation_is_variance_over_real_tokens_times_column_norm(tiny, batches):
    from taxfree.training.methods.ssah.units import fluctuation_scores

    down = tiny.model.layers[1].mlp.down_proj
    seen = []
    handle = down.register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach()))
    for batch in batches:
        tiny(**batch)
    handle.remove()
    x = torch.cat([s[b["attention_mask"].bool()] for s, b in zip(seen, batches)]).double()
    expected = x.var(0, unbiased=True) * down.weight.detach().double().pow(2).sum(0)
    scores = fluctuation_scores(tiny, batches)
    assert torch.allclose(scores["model.layers.1.mlp.down_proj"].double(), expected, rtol=1e-4)
    assert set(scores) == {f"model.layers.{i}.{m}" for i in (0, 1) for m in ("mlp.down_proj", "self_attn.o_proj")}


def test_types_partition_units_with_their_shares():
    from taxfree.training.methods.ssah.units import classify, top_complex

    gen = torch.Generator().manual_seed(0)
    safety = {"a": torch.rand(60, generator=gen), "b": torch.rand(40, generator=gen)}
    utility = {"a": torch.rand(60, generator=gen), "b": torch.rand(40, generator=gen)}
    types = classify(safety, utility, scu_fraction=0.05, ucu_fraction=0.1, ru_fraction=0.2)
    flat = types["a"] + types["b"]
    assert len(flat) == 100 and set(flat) <= {"scu", "ucu", "ru", "cu"}
    assert (flat.count("scu"), flat.count("ucu"), flat.count("ru"), flat.count("cu")) == (5, 10, 20, 65)
    s, u = torch.cat(list(safety.values())), torch.cat(list(utility.values()))
    scu = [i for i, t in enumerate(flat) if t == "scu"]
    assert set(scu) == set(torch.argsort(s - u, descending=True)[:5].tolist())
    top = top_complex(types, safety, utility, fraction=0.07)
    chosen = [i for i, flag in enumerate(top["a"] + top["b"]) if flag]
    assert len(chosen) == 7 and all(flat[i] == "cu" for i in chosen)
    assert min((s + u)[chosen]) >= max((s + u)[[i for i, t in enumerate(flat) if t == "cu" and i not in chosen]])


def test_pruning_zeroes_exactly_the_units(tiny):
    from taxfree.training.methods.ssah.units import prune

    units = {name: torch.zeros(n, dtype=torch.bool) for name, n in
             [(f"model.layers.{i}.{m}", 24 if m == "mlp.down_proj" else 16)
              for i in (0, 1) for m in ("mlp.down_proj", "self_attn.o_proj")]}
    units["model.layers.0.mlp.down_proj"][[2, 5]] = True
    before = {n: p.detach().clone() for n, p in tiny.named_parameters()}
    prune(tiny, units)
    mlp = tiny.model.layers[0].mlp
    assert mlp.down_proj.weight[:, [2, 5]].abs().sum() == 0
    assert mlp.up_proj.weight[[2, 5]].abs().sum() == 0 and mlp.gate_proj.weight[[2, 5]].abs().sum() == 0
    changed = [n for n, p in tiny.named_parameters() if not torch.equal(p, before[n])]
    assert sorted(changed) == sorted(f"model.layers.0.mlp.{m}.weight" for m in ("down_proj", "gate_proj", "up_proj"))


def test_frozen_units_are_bit_identical_after_training_while_the_rest_moved(tiny, toy_tokenizer, toy_splits, tmp_path):
    from datasets import Dataset

    from taxfree.config.schema import training_defaults
    from taxfree.data.datasets import render
    from taxfree.training.methods.sft import sft_arguments
    from taxfree.training.methods.ssah.units import FrozenUnitsTrainer, find_blocks, weight_masks

    units = {b.name: torch.arange(b.b.in_features) % 3 == 0 for b in find_blocks(tiny)}
    masks = weight_masks(tiny, units)
    before = {n: p.detach().clone() for n, p in tiny.named_parameters()}
    training = {**training_defaults(), "learning_rate": 1e-2, "weight_decay": 0.1, "num_train_epochs": 1,
                "per_device_train_batch_size": 4, "max_length": 64, "precision": "fp32", "save_strategy": "no"}
    data = Dataset.from_list([render(row, toy_tokenizer) for row in toy_splits["refusal"][:12]])
    trainer = FrozenUnitsTrainer(model=tiny, args=sft_arguments(training, tmp_path), train_dataset=data,
                                 processing_class=toy_tokenizer, masks=masks)
    trainer.train()
    assert trainer.state.global_step == 3
    for name, mask in masks.items():
        param = tiny.get_parameter(name).detach()
        assert torch.equal(param[mask], before[name][mask]), name
        assert (param[~mask] != before[name][~mask]).float().mean() > 0.9, name
    others = [n for n in before if n not in masks]
    assert all(not torch.equal(tiny.get_parameter(n), before[n]) for n in others)


def test_freeze_other_trains_only_the_chosen_units(tiny, toy_tokenizer, toy_splits, tmp_path):
    from datasets import Dataset

    from taxfree.config.schema import training_defaults
    from taxfree.data.datasets import render
    from taxfree.training.methods.sft import sft_arguments
    from taxfree.training.methods.ssah.units import FrozenUnitsTrainer, find_blocks, weight_masks

    masks = weight_masks(tiny, {b.name: torch.arange(b.b.in_features) % 4 != 0 for b in find_blocks(tiny)})
    before = {n: p.detach().clone() for n, p in tiny.named_parameters()}
    training = {**training_defaults(), "learning_rate": 1e-2, "weight_decay": 0.1, "num_train_epochs": 1,
                "per_device_train_batch_size": 4, "max_length": 64, "precision": "fp32", "save_strategy": "no"}
    data = Dataset.from_list([render(row, toy_tokenizer) for row in toy_splits["refusal"][:8]])
    FrozenUnitsTrainer(model=tiny, args=sft_arguments(training, tmp_path), train_dataset=data,
                       processing_class=toy_tokenizer, masks=masks, freeze_other=True).train()
    for name, p in tiny.named_parameters():
        if name in masks:
            assert torch.equal(p[masks[name]], before[name][masks[name]])
            assert not torch.equal(p[~masks[name]], before[name][~masks[name]])
        else:
            assert torch.equal(p, before[name]), name
