"""SAP: LoRA fine-tuning that keeps away from the harmful weight direction (docs/sap.md).

Each step, as the authors' code does it: the gradient g of a preference loss (refusal over
harmful answer) on safety pairs; the weights moved by ``rate * ||theta||`` along g/||g||;
-L_task backpropagated there into the probe vectors (biases on down_proj outputs) only; the
weights restored exactly; +L_task backpropagated at the current weights into the weights and
the probes (TRL's ordinary step); the probes reset to zero and stepped by their own AdamW on
the accumulated gradient grad_V L(theta) - grad_V L(theta + eps g). The next step runs under
them. Unlike the released code, log-probabilities come from prompt+response inputs, prompt
masked, with logits shifted against their labels.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from trl import SFTTrainer

from taxfree.core.errors import InputError
from taxfree.data.datasets import read_table, render, require_text


class Probes:
    """One learnable fp32 vector per chosen layer, added to the output of that layer's down_proj in every
    forward pass, with its own AdamW whose moments persist from step to step. A step's passes run under
    the vectors the previous step set."""

    def __init__(self, model: Any, layers: list[int], lr: float):
        modules = dict(model.named_modules())
        self.vectors: list[torch.Tensor] = []
        for layer in layers:
            name = next((n for n in modules if n.endswith(f"layers.{layer}.mlp.down_proj")), None)
            if name is None:
                raise ValueError(f"sap.layers: the model has no layer {layer} with an mlp.down_proj")
            module = modules[name]
            weight = module.weight if hasattr(module, "weight") else module.base_layer.weight
            vector = torch.zeros(weight.shape[0], dtype=torch.float32, device=weight.device, requires_grad=True)
            self.vectors.append(vector)
            module.register_forward_hook(lambda _m, _a, out, v=vector: out + v.to(out.dtype))
        # torch's AdamW defaults, as the authors use them; its weight decay does nothing here, since the
        # vectors are zero when they step.
        self.optimizer = torch.optim.AdamW(self.vectors, lr=lr)

    def step(self) -> None:
        """Reset to zero, then one step of the probe's optimizer on the gradient accumulated in the vectors."""
        with torch.no_grad():
            for vector in self.vectors:
                vector.zero_()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)


def sequence_logprobs(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                      labels: torch.Tensor) -> torch.Tensor:
    """Sum of log p(token) over each sequence's labelled tokens (labels -100 elsewhere), logits shifted."""
    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits[:, :-1].float()
    targets = labels[:, 1:]
    mask = targets != -100
    logp = torch.log_softmax(logits, -1).gather(-1, targets.clamp_min(0).unsqueeze(-1)).squeeze(-1)
    return (logp * mask).sum(-1)


def preference_loss(model: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """-log sigmoid(log p(chosen) - log p(rejected)), averaged over pairs."""
    chosen = sequence_logprobs(model, batch["chosen_input_ids"], batch["chosen_attention_mask"], batch["chosen_labels"])
    rejected = sequence_logprobs(model, batch["rejected_input_ids"], batch["rejected_attention_mask"],
                                 batch["rejected_labels"])
    return -torch.nn.functional.logsigmoid(chosen - rejected).mean()


def tokenize_pairs(rows: list[dict[str, str]], tokenizer: Any, max_length: int) -> list[dict[str, list[int]]]:
    """Prompt+response token ids and labels (prompt masked) for both responses of each pair."""
    out = []
    for row in rows:
        pair = {}
        for side in ("chosen", "rejected"):
            text = render({"prompt": [{"role": "user", "content": row["prompt"]}],
                           "completion": [{"role": "assistant", "content": row[side]}]}, tokenizer)
            prompt = tokenizer(text["prompt"], add_special_tokens=False)["input_ids"]
            response = tokenizer(text["completion"], add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
            ids = (prompt + response)[:max_length]
            pair[f"{side}_input_ids"] = ids
            pair[f"{side}_labels"] = ([-100] * len(prompt) + response)[:max_length]
        out.append(pair)
    return out


def collate_pairs(pairs: list[dict[str, list[int]]], pad_id: int, device: Any) -> dict[str, torch.Tensor]:
    batch = {}
    for side in ("chosen", "rejected"):
        width = max(len(p[f"{side}_input_ids"]) for p in pairs)
        pad = [width - len(p[f"{side}_input_ids"]) for p in pairs]
        batch[f"{side}_input_ids"] = torch.tensor([p[f"{side}_input_ids"] + [pad_id] * k for p, k in zip(pairs, pad)])
        batch[f"{side}_labels"] = torch.tensor([p[f"{side}_labels"] + [-100] * k for p, k in zip(pairs, pad)])
        batch[f"{side}_attention_mask"] = torch.tensor([[1] * len(p[f"{side}_input_ids"]) + [0] * k
                                                        for p, k in zip(pairs, pad)])
    return {k: v.to(device) for k, v in batch.items()}


def load_pairs(path: str, columns: dict[str, str], max_rows: int | None) -> list[dict[str, str]]:
    """(prompt, chosen, rejected) text rows from a local table; ``columns`` maps those names to its columns."""
    rows = read_table(path)[:max_rows] if max_rows else read_table(path)
    if not rows:
        raise InputError(f"{path}: no safety pairs")
    return [{key: require_text(path, i, row, column) for key, column in columns.items()}
            for i, row in enumerate(rows, start=1)]


@torch.no_grad()
def _norm(tensors: list[torch.Tensor]) -> torch.Tensor:
    return torch.sqrt(sum(t.double().pow(2).sum() for t in tensors))


def safety_gradient(model: Any, params: list[torch.Tensor],
                    safety_batch: dict[str, torch.Tensor]) -> tuple[list[torch.Tensor], float]:
    """The gradient of the preference loss with respect to ``params`` (zero where unused), and the loss."""
    loss = preference_loss(model, safety_batch)
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)], float(loss.detach())


@contextlib.contextmanager
def perturbed(params: list[torch.Tensor], direction: list[torch.Tensor], rate: float) -> Iterator[None]:
    """The weights moved by ``eps = rate * ||params||`` along the unit ``direction``, restored exactly on exit
    from an fp32 copy (adding and subtracting the step in bf16 would not return the same weights)."""
    d_norm = _norm(direction)
    # A saturated preference loss (refusal already far likelier) can leave no gradient at all.
    scale = rate * _norm(params) / d_norm if d_norm > 0 else torch.zeros((), dtype=torch.float64)
    backup = [p.detach().to(torch.float32, copy=True) for p in params]
    with torch.no_grad():
        for p, d in zip(params, direction):
            p.add_((scale * d.double()).to(p.dtype))
    try:
        yield
    finally:
        with torch.no_grad():
            for p, saved in zip(params, backup):
                p.copy_(saved)


class SAPTrainer(SFTTrainer):
    """SFTTrainer whose step is SAP's: the probe gradient's ascent term at the perturbed weights, then TRL's
    ordinary step at the current weights (its backward also adds the descent term to the probe's gradient),
    then the probe's own step."""

    def __init__(self, *args: Any, sap: dict[str, Any], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.sap = sap
        tokenizer = self.processing_class
        self.pairs = tokenize_pairs(load_pairs(sap["pairs_path"], sap["columns"], sap["max_pairs"]), tokenizer,
                                    self.args.max_length)
        self.pad_id = tokenizer.pad_token_id
        self.probes = Probes(self.model, sap["layers"], sap["probe_lr"])
        self._next_pair = 0

    def _safety_batch(self, device: Any) -> dict[str, torch.Tensor]:
        size = min(self.sap["pairs_batch_size"], len(self.pairs))
        picked = [self.pairs[(self._next_pair + i) % len(self.pairs)] for i in range(size)]
        self._next_pair = (self._next_pair + size) % len(self.pairs)
        return collate_pairs(picked, self.pad_id, device)

    @contextlib.contextmanager
    def _uncounted(self) -> Iterator[None]:
        """TRL's compute_loss counts tokens and logs accuracies; the perturbed pass is not a step of its own."""
        tokens = self._total_train_tokens
        lengths = {key: len(values) for key, values in self._metrics["train"].items()}
        try:
            yield
        finally:
            self._total_train_tokens = tokens
            for key, values in self._metrics["train"].items():
                del values[lengths.get(key, 0):]

    def training_step(self, model: Any, inputs: dict[str, Any], num_items_in_batch: Any = None) -> torch.Tensor:
        model.train()
        inputs = self._prepare_inputs(inputs)
        params = [p for p in model.parameters() if p.requires_grad]
        device = inputs["input_ids"].device
        # The extra passes bypass DDP's gradient sync: only the task step below is a step of the weights.
        with self.accelerator.no_sync(model):
            direction, safety = safety_gradient(model, params, self._safety_batch(device))
            # The RNG is forked so that TRL's step below draws the same dropout masks as this pass: the two
            # probe gradients then differ by the perturbation alone, not by dropout noise.
            with (torch.random.fork_rng(devices=[device] if device.type == "cuda" else []),
                  perturbed(params, direction, self.sap["rate"]), self._uncounted(),
                  self.compute_loss_context_manager()):
                loss = self.compute_loss(model, dict(inputs), num_items_in_batch=num_items_in_batch)
                (-loss).backward(inputs=self.probes.vectors)
        self._metrics["train"]["sap_safety_loss"].append(safety)
        loss = super().training_step(model, inputs, num_items_in_batch)
        if self.accelerator.num_processes > 1:
            for vector in self.probes.vectors:
                vector.grad = self.accelerator.reduce(vector.grad, "mean")
        self.probes.step()
        return loss
