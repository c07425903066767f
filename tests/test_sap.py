"""SAP: each piece of the step against a direct computation on a tiny Llama with LoRA."""

import copy
import json

import pytest
import torch


@pytest.fixture
def lora_model(toy_tokenizer):
    from peft import LoraConfig, get_peft_model

    from taxfree.data.toyworld import build_model

    torch.set_num_threads(1)
    model = build_model(toy_tokenizer, hidden_size=16, num_layers=3, intermediate_size=24, num_heads=2, seed=0)
    model = get_peft_model(model, LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj", "v_proj"],
                                             init_lora_weights=False))
    model.train()
    return model


@pytest.fixture
def pairs(toy_splits, toy_tokenizer):
    from taxfree.training.methods.sap.trainer import collate_pairs, tokenize_pairs

    # Swapped: the random model finds the refusal so much likelier that the loss, and its
    # gradient, would vanish in float32; the computation checked is the same.
    rows = [{**r, "chosen": r["rejected"], "rejected": r["chosen"]} for r in toy_splits["safety_pairs"][:3]]
    return collate_pairs(tokenize_pairs(rows, toy_tokenizer, 96), toy_tokenizer.pad_token_id, "cpu")


def lora_params(model):
    return [p for p in model.parameters() if p.requires_grad]


def test_logprobs_are_shifted_and_cover_only_the_response(lora_model, pairs, toy_tokenizer):
    from taxfree.training.methods.sap.trainer import sequence_logprobs

    ids, mask, labels = pairs["chosen_input_ids"], pairs["chosen_attention_mask"], pairs["chosen_labels"]
    got = sequence_logprobs(lora_model, ids, mask, labels)
    logits = lora_model(input_ids=ids, attention_mask=mask).logits
    for row in range(ids.shape[0]):
        expected = sum(torch.log_softmax(logits[row, t - 1], -1)[ids[row, t]]
                       for t in range(ids.shape[1]) if labels[row, t] != -100)
        assert got[row].item() == pytest.approx(expected.item(), rel=1e-5)
        response = labels[row][labels[row] != -100].tolist()
        assert response[-1] == toy_tokenizer.eos_token_id
        assert "step one" in toy_tokenizer.decode(response)


def test_perturbed_moves_eps_along_the_unit_direction_and_restores_exactly(lora_model, pairs):
    from taxfree.training.methods.sap.trainer import perturbed, safety_gradient

    rate = 1e-2
    params = lora_params(lora_model)
    before = [p.detach().clone() for p in params]
    direction, _ = safety_gradient(lora_model, params, pairs)
    g_norm = torch.sqrt(sum((g.double() ** 2).sum() for g in direction))
    eps = rate * torch.sqrt(sum((p.double() ** 2).sum() for p in before))
    with perturbed(params, direction, rate):
        step = torch.sqrt(sum(((p.double() - b.double()) ** 2).sum() for p, b in zip(params, before)))
        assert step.item() == pytest.approx(eps.item(), rel=1e-4)
        for p, b, g in zip(params, before, direction):
            assert torch.allclose(p - b, (eps * g.double() / g_norm).float(), atol=1e-7)
    assert all(torch.equal(p, b) for p, b in zip(params, before))


def authors_step(model, biases, optimizer, safety_batch, task, rate):
    """One step of the authors' algorithm written out with torch.autograd on a copy: returns the weights'
    gradient, the two probe gradients, and leaves the probe set by one step of its optimizer."""
    from taxfree.training.methods.sap.trainer import preference_loss

    theta = lora_params(model)
    g = torch.autograd.grad(preference_loss(model, safety_batch), theta)
    g_norm = torch.sqrt(sum((x.double() ** 2).sum() for x in g))
    eps = rate * torch.sqrt(sum((p.double() ** 2).sum() for p in theta))
    saved = [p.detach().clone() for p in theta]
    with torch.no_grad():
        for p, x in zip(theta, g):
            p.add_((eps * x.double() / g_norm).float())
    at_perturbed = torch.autograd.grad(model(**task).loss, biases)
    with torch.no_grad():
        for p, s in zip(theta, saved):
            p.copy_(s)
    grads = torch.autograd.grad(model(**task).loss, biases + theta)
    at_current, theta_grad = grads[:len(biases)], grads[len(biases):]
    with torch.no_grad():
        for b, cur, pert in zip(biases, at_current, at_perturbed):
            b.zero_()
            b.grad = cur - pert
    optimizer.step()
    optimizer.zero_grad()
    return theta_grad, at_current, at_perturbed


def sap_trainer(model, toy_splits, toy_tokenizer, tmp_path, rate, n_rows=4):
    from datasets import Dataset

    from taxfree.config.schema import training_defaults
    from taxfree.data.datasets import render
    from taxfree.training.methods.sap.trainer import SAPTrainer
    from taxfree.training.methods.sft import sft_arguments

    swapped = [{**r, "chosen": r["rejected"], "rejected": r["chosen"]} for r in toy_splits["safety_pairs"][:4]]
    pairs_path = tmp_path / "pairs.jsonl"
    pairs_path.write_text("".join(json.dumps(r) + "\n" for r in swapped))
    sap = {"pairs_path": str(pairs_path), "columns": {"prompt": "prompt", "chosen": "chosen", "rejected": "rejected"},
           "max_pairs": None, "pairs_batch_size": 2, "layers": [0, 2], "rate": rate, "probe_lr": 0.05}
    training = {**training_defaults(), "learning_rate": 1e-3, "num_train_epochs": 1, "per_device_train_batch_size": 2,
                "max_length": 96, "precision": "fp32", "save_strategy": "no"}
    data = Dataset.from_list([render(row, toy_tokenizer) for row in toy_splits["downstream"][:n_rows]])
    trainer = SAPTrainer(model=model, args=sft_arguments(training, tmp_path), train_dataset=data,
                         processing_class=toy_tokenizer, sap=sap)
    trainer.current_gradient_accumulation_steps = 1  # set by the training loop, which these tests bypass
    return trainer, swapped


def test_trainer_steps_are_the_authors_steps_and_the_probe_optimizer_keeps_its_state(
        lora_model, toy_splits, toy_tokenizer, tmp_path):
    from taxfree.training.methods.sap.trainer import collate_pairs, tokenize_pairs

    rate = 1e-2
    direct = copy.deepcopy(lora_model)
    trainer, swapped = sap_trainer(lora_model, toy_splits, toy_tokenizer, tmp_path, rate)
    model = trainer.model
    batches = list(trainer.get_train_dataloader())
    assert len(batches) == 2

    biases = [torch.zeros(16, requires_grad=True) for _ in range(2)]
    layers = direct.base_model.model.model.layers
    for i, b in zip((0, 2), biases):
        layers[i].mlp.down_proj.register_forward_hook(lambda _m, _a, out, b=b: out + b)
    optimizer = torch.optim.AdamW(biases, lr=0.05)
    for step, batch in enumerate(batches):
        model.zero_grad()
        trainer.training_step(model, dict(batch))
        got_theta = [p.grad.clone() for p in lora_params(model)]

        # Directly: this step's pairs (batches of 2 cycle through the 4), the task loss under the probe the
        # previous step set (zero at first).
        safety_batch = collate_pairs(tokenize_pairs(swapped[2 * step:2 * step + 2], toy_tokenizer, 96),
                                     toy_tokenizer.pad_token_id, "cpu")
        task = {k: batch[k] for k in ("input_ids", "attention_mask", "labels")}
        theta_grad, at_current, at_perturbed = authors_step(direct, biases, optimizer, safety_batch, task, rate)
        assert all(torch.allclose(g, e, atol=1e-6) for g, e in zip(got_theta, theta_grad))
        for vector, bias in zip(trainer.probes.vectors, biases):
            assert torch.allclose(vector, bias, atol=1e-5)
        if step == 0:
            # One step of a fresh Adam is lr * sign(gradient): Adam's normalisation makes the small difference count.
            assert all(torch.allclose(v.abs(), torch.full_like(v, 0.05), atol=1e-6) for v in trainer.probes.vectors)
        # A fresh optimizer's step on the same gradient: at the second step it differs from the persistent one.
        fresh = [torch.zeros(16, requires_grad=True) for _ in range(2)]
        for f, cur, pert in zip(fresh, at_current, at_perturbed):
            f.grad = cur - pert
        torch.optim.AdamW(fresh, lr=0.05).step()
        close = [torch.allclose(f, v, atol=1e-3) for f, v in zip(fresh, trainer.probes.vectors)]
        assert close == ([True, True] if step == 0 else [False, False])
    assert all(trainer.probes.optimizer.state[v]["step"] == 2 for v in trainer.probes.vectors)


def test_both_probe_gradients_see_the_same_dropout_masks(toy_tokenizer, toy_splits, tmp_path):
    from peft import LoraConfig, get_peft_model

    from taxfree.data.toyworld import build_model

    torch.set_num_threads(1)
    model = build_model(toy_tokenizer, hidden_size=16, num_layers=3, intermediate_size=24, num_heads=2, seed=0)
    model = get_peft_model(model, LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj", "v_proj"],
                                             lora_dropout=0.5, init_lora_weights=False))
    # rate 0: the perturbed weights are the current ones, so the probe gradient is zero unless the two passes
    # drew different dropout masks.
    trainer, _ = sap_trainer(model, toy_splits, toy_tokenizer, tmp_path, rate=0.0, n_rows=2)
    batch = next(iter(trainer.get_train_dataloader()))
    task = {k: batch[k] for k in ("input_ids", "attention_mask", "labels")}
    trainer.model.train()
    assert trainer.model(**task).loss != trainer.model(**task).loss  # dropout is on
    trainer.training_step(trainer.model, dict(batch))
    assert all(torch.equal(v, torch.zeros_like(v)) for v in trainer.probes.vectors)
