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


def channel_fluctuation(model, module, batches):
    """The fluctuation score of each input channel of ``module``, computed directly in float64: the variance
    of its input over real (unmasked) tokens times the squared norm of its weight's column."""
    seen = []
    handle = module.register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach()))
    for batch in batches:
        model(**batch)
    handle.remove()
    x = torch.cat([s[b["attention_mask"].bool()] for s, b in zip(seen, batches)]).double()
    return x.var(0, unbiased=True) * module.weight.detach().double().pow(2).sum(0)


def test_fluctuation_is_variance_over_real_tokens_times_column_norm(tiny, batches):
    from taxfree.training.methods.ssah.units import fluctuation_scores

    expected = channel_fluctuation(tiny, tiny.model.layers[1].mlp.down_proj, batches)
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
             [(f"model.layers.{i}.{m}", 24 if m == "mlp.down_proj" else 2)
              for i in (0, 1) for m in ("mlp.down_proj", "self_attn.o_proj")]}
    units["model.layers.0.mlp.down_proj"][[2, 5]] = True
    before = {n: p.detach().clone() for n, p in tiny.named_parameters()}
    prune(tiny, units)
    mlp = tiny.model.layers[0].mlp
    assert mlp.down_proj.weight[:, [2, 5]].abs().sum() == 0
    assert mlp.up_proj.weight[[2, 5]].abs().sum() == 0 and mlp.gate_proj.weight[[2, 5]].abs().sum() == 0
    changed = [n for n, p in tiny.named_parameters() if not torch.equal(p, before[n])]
    assert sorted(changed) == sorted(f"model.layers.0.mlp.{m}.weight" for m in ("down_proj", "gate_proj", "up_proj"))


@pytest.mark.parametrize("architecture", ["tiny", "gqa"])
def test_frozen_units_are_bit_identical_after_training_while_the_rest_moved(architecture, request, toy_tokenizer,
                                                                            toy_splits, tmp_path):
    from datasets import Dataset

    from taxfree.config.schema import training_defaults
    from taxfree.data.datasets import render
    from taxfree.training.methods.sft import sft_arguments
    from taxfree.training.methods.ssah.units import FrozenUnitsTrainer, find_blocks, weight_masks

    tiny = request.getfixturevalue(architecture)
    units = {b.name: torch.arange(b.units) % 3 == 0 for b in find_blocks(tiny)}
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
        if not mask.all():  # GQA: heads 0 and 3 of the one k/v group are frozen, so all of k_proj and v_proj is
            assert (param[~mask] != before[name][~mask]).float().mean() > 0.9, name
    others = [n for n in before if n not in masks]
    assert all(not torch.equal(tiny.get_parameter(n), before[n]) for n in others)


def test_freeze_other_trains_only_the_chosen_units(tiny, toy_tokenizer, toy_splits, tmp_path):
    from datasets import Dataset

    from taxfree.config.schema import training_defaults
    from taxfree.data.datasets import render
    from taxfree.training.methods.sft import sft_arguments
    from taxfree.training.methods.ssah.units import FrozenUnitsTrainer, find_blocks, weight_masks

    masks = weight_masks(tiny, {b.name: torch.arange(b.units) % 4 != 0 for b in find_blocks(tiny)})
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


@pytest.fixture
def gqa(toy_tokenizer):
    """A tiny Qwen2 with grouped-query attention: 4 heads of 4 channels share one key/value group."""
    from taxfree.data.toyworld import build_model

    torch.set_num_threads(1)
    model = build_model(toy_tokenizer, hidden_size=16, num_layers=2, intermediate_size=24, num_heads=4, seed=0,
                        architecture="qwen2", num_kv_heads=1)
    assert model.config.num_key_value_heads == 1 and model.model.layers[0].self_attn.q_proj.bias is not None
    return model


def test_attention_units_are_heads(tiny):
    from taxfree.training.methods.ssah.units import find_blocks

    attn = {b.name: b for b in find_blocks(tiny)}["model.layers.0.self_attn.o_proj"]
    assert (attn.units, attn.width, attn.group) == (2, 8, 1)
    assert list(attn.a) == ["model.layers.0.self_attn.q_proj"]
    assert sorted(attn.shared) == ["model.layers.0.self_attn.k_proj", "model.layers.0.self_attn.v_proj"]


def test_head_score_sums_its_channels(gqa, batches):
    from taxfree.training.methods.ssah.units import fluctuation_scores

    channel = channel_fluctuation(gqa, gqa.model.layers[1].self_attn.o_proj, batches)
    scores = fluctuation_scores(gqa, batches)["model.layers.1.self_attn.o_proj"]
    assert scores.shape == (4,)
    assert torch.allclose(scores.double(), channel.view(4, 4).sum(1), rtol=1e-4)


def test_gqa_freezing_a_head_freezes_its_key_value_group_and_pruning_does_not(gqa):
    from taxfree.training.methods.ssah.units import find_blocks, prune, weight_masks

    blocks = {b.name: b for b in find_blocks(gqa)}
    attn = blocks["model.layers.0.self_attn.o_proj"]
    assert (attn.units, attn.width, attn.group) == (4, 4, 4)
    units = {name: torch.zeros(b.units, dtype=torch.bool) for name, b in blocks.items()}
    units["model.layers.0.self_attn.o_proj"][1] = True
    masks = weight_masks(gqa, units)
    head = torch.arange(16) // 4 == 1
    prefix = "model.layers.0.self_attn"
    assert torch.equal(masks[f"{prefix}.q_proj.weight"].all(1), head)
    assert torch.equal(masks[f"{prefix}.q_proj.bias"], head)
    assert torch.equal(masks[f"{prefix}.o_proj.weight"].all(0), head)
    # The one k/v group serves head 1, so freezing head 1 freezes all of k_proj and v_proj (4 rows each).
    for name in ("k_proj", "v_proj"):
        assert masks[f"{prefix}.{name}.weight"].shape == (4, 16) and masks[f"{prefix}.{name}.weight"].all()
        assert masks[f"{prefix}.{name}.bias"].all()
    assert not masks["model.layers.1.self_attn.k_proj.weight"].any()

    with torch.no_grad():
        for module in (gqa.model.layers[0].self_attn.q_proj, gqa.model.layers[0].self_attn.k_proj):
            module.bias.fill_(1.0)  # initialised at zero, where pruning could not be seen
    before = {n: p.detach().clone() for n, p in gqa.named_parameters()}
    prune(gqa, units)
    attn_module = gqa.model.layers[0].self_attn
    assert attn_module.q_proj.weight[head].abs().sum() == 0 and attn_module.o_proj.weight[:, head].abs().sum() == 0
    # Pruning one head of the group leaves the group's keys and values to the other three heads.
    changed = sorted(n for n, p in gqa.named_parameters() if not torch.equal(p, before[n]))
    assert changed == [f"{prefix}.o_proj.weight", f"{prefix}.q_proj.bias", f"{prefix}.q_proj.weight"]
    every = {name: torch.ones_like(u) if name == "model.layers.0.self_attn.o_proj" else u for name, u in units.items()}
    prune(gqa, every)
    assert attn_module.k_proj.weight.abs().sum() == 0 and attn_module.v_proj.weight.abs().sum() == 0


def test_standardise_centres_and_scales_each_block():
    from taxfree.training.methods.ssah.units import standardise

    out = standardise({"a": torch.tensor([1.0, 2.0, 3.0]), "b": torch.tensor([5.0, 5.0]), "c": torch.tensor([7.0])})
    assert torch.allclose(out["a"], torch.tensor([-1.0, 0.0, 1.0]))
    assert torch.equal(out["b"], torch.zeros(2)) and torch.equal(out["c"], torch.zeros(1))


def test_scaling_one_modules_activations_does_not_change_the_selection(gqa, batches, toy_splits, toy_tokenizer):
    from taxfree.data.datasets import render
    from taxfree.training.methods.ssah.units import classify, fluctuation_scores, standardise, top_complex, unit_scores

    texts = [t["prompt"] + t["completion"] for t in (render(r, toy_tokenizer) for r in toy_splits["reasoning"][:6])]
    utility_batches = [dict(toy_tokenizer(texts[i:i + 3], return_tensors="pt", padding=True,
                                          add_special_tokens=False)) for i in (0, 3)]

    def selection(score):
        safety, utility = score(gqa, batches), score(gqa, utility_batches)
        types = classify(safety, utility, scu_fraction=0.05, ucu_fraction=0.1, ru_fraction=0.2)
        return types, top_complex(types, safety, utility, 0.1)

    before = selection(unit_scores)
    raw_before = selection(fluctuation_scores)
    with torch.no_grad():
        # The last MLP's neurons all fire 30x larger; no scored module reads its output.
        gqa.model.layers[1].mlp.up_proj.weight.mul_(30.0)
    assert selection(unit_scores) == before
    # Without the per-block normalisation the same rescaling reshuffles the types.
    assert selection(fluctuation_scores) != raw_before

    # Attention blocks 1000x louder than MLP blocks, on both calibration sets: the same types again.
    raw = (fluctuation_scores(gqa, batches), fluctuation_scores(gqa, utility_batches))

    def typed(scale):
        safety, utility = (standardise({n: v * (scale if "self_attn" in n else 1.0) for n, v in r.items()})
                           for r in raw)
        return classify(safety, utility, scu_fraction=0.05, ucu_fraction=0.1, ru_fraction=0.2)

    assert typed(1000.0) == typed(1.0)
