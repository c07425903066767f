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


@pytest.fixture
def task(toy_splits, toy_tokenizer):
    from taxfree.training.methods.sap.trainer import collate_pairs, tokenize_pairs

    rows = [{"prompt": r["prompt"][0]["content"], "chosen": r["completion"][0]["content"],
             "rejected": r["completion"][0]["content"]} for r in toy_splits["downstream"][:2]]
    batch = collate_pairs(tokenize_pairs(rows, toy_tokenizer, 96), toy_tokenizer.pad_token_id, "cpu")
    return {"input_ids": batch["chosen_input_ids"], "attention_mask": batch["chosen_attention_mask"],
            "labels": batch["chosen_labels"]}


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


def test_probe_values_match_a_direct_computation_and_restore_weights_exactly(lora_model, pairs, task):
    from taxfree.training.methods.sap.trainer import Probes, preference_loss, probe_values

    rate, probe_lr = 1e-2, 0.05
    direct = copy.deepcopy(lora_model)
    params = lora_params(lora_model)
    before = [p.detach().clone() for p in params]
    probes = Probes(lora_model, [1, 2])
    values, safety = probe_values(lora_model, params, probes, pairs, lambda: lora_model(**task).loss, rate, probe_lr)
    assert all(torch.equal(p, b) for p, b in zip(params, before))
    assert all(v.abs().sum() == 0 for v in probes.vectors)

    # The same steps written out on a copy: safety gradient, normalised, eps from ||theta||,
    # task-loss gradient with respect to biases on down_proj outputs at zero.
    theta = lora_params(direct)
    loss = preference_loss(direct, pairs)
    assert safety == pytest.approx(loss.item())
    g = torch.autograd.grad(loss, theta)
    g_norm = torch.sqrt(sum((x.double() ** 2).sum() for x in g))
    eps = rate * torch.sqrt(sum((p.double() ** 2).sum() for p in theta))
    with torch.no_grad():
        for p, x in zip(theta, g):
            p.add_((eps * x.double() / g_norm).float())
    biases = [torch.zeros(16, requires_grad=True) for _ in range(2)]
    layers = direct.base_model.model.model.layers
    handles = [layers[i].mlp.down_proj.register_forward_hook(lambda _m, _a, out, b=b: out + b)
               for i, b in zip((1, 2), biases)]
    expected = torch.autograd.grad(direct(**task).loss, biases)
    for handle in handles:
        handle.remove()
    assert all(not torch.equal(p, b) for p, b in zip(theta, before))
    for value, grad in zip(values, expected):
        assert torch.allclose(value, probe_lr * grad, atol=1e-7)
        assert value.abs().sum() > 0


def test_trainer_step_is_the_task_gradient_under_the_probe(lora_model, toy_splits, toy_tokenizer, tmp_path):
    from datasets import Dataset

    from taxfree.config.schema import training_defaults
    from taxfree.data.datasets import render
    from taxfree.training.methods.sap.trainer import Probes, SAPTrainer, collate_pairs, probe_values, tokenize_pairs
    from taxfree.training.methods.sft import sft_arguments

    swapped = [{**r, "chosen": r["rejected"], "rejected": r["chosen"]} for r in toy_splits["safety_pairs"][:4]]
    pairs_path = tmp_path / "pairs.jsonl"
    pairs_path.write_text("".join(json.dumps(r) + "\n" for r in swapped))
    sap = {"pairs_path": str(pairs_path), "columns": {"prompt": "prompt", "chosen": "chosen", "rejected": "rejected"},
           "max_pairs": None, "pairs_batch_size": 2, "layers": [0, 2], "rate": 1e-2, "probe_lr": 0.5}
    training = {**training_defaults(), "learning_rate": 1e-3, "num_train_epochs": 1, "per_device_train_batch_size": 2,
                "max_length": 96, "precision": "fp32", "save_strategy": "no"}
    data = Dataset.from_list([render(row, toy_tokenizer) for row in toy_splits["downstream"][:2]])
    direct = copy.deepcopy(lora_model)
    trainer = SAPTrainer(model=lora_model, args=sft_arguments(training, tmp_path), train_dataset=data,
                         processing_class=toy_tokenizer, sap=sap)
    model = trainer.model
    batch = next(iter(trainer.get_train_dataloader()))
    trainer.current_gradient_accumulation_steps = 1  # set by the training loop, which this test bypasses
    trainer.training_step(model, dict(batch))
    got = [p.grad.clone() for p in lora_params(model)]

    # Directly: probes from the first two pairs, then the task loss's gradient under them.
    probes = Probes(direct, [0, 2])
    safety_batch = collate_pairs(tokenize_pairs(swapped[:2], toy_tokenizer, 96),
                                 toy_tokenizer.pad_token_id, "cpu")
    task = {k: batch[k] for k in ("input_ids", "attention_mask", "labels")}
    values, _ = probe_values(direct, lora_params(direct), probes, safety_batch, lambda: direct(**task).loss,
                             sap["rate"], sap["probe_lr"])
    probes.set(values)
    expected = torch.autograd.grad(direct(**task).loss, lora_params(direct))
    assert all(torch.allclose(g, e, atol=1e-6) for g, e in zip(got, expected))
    assert trainer.probes.vectors[0].abs().sum() > 0
