"""SAP: LoRA fine-tuning that keeps away from the harmful weight direction (docs/sap.md).

Each step: the safety gradient g of a preference loss (refusal over harmful answer) on
safety pairs; the weights perturbed by ``rate * ||theta||`` along g/||g||; the gradient of
the task loss there with respect to probe vectors (biases on down_proj outputs) taken at
zero; the weights restored exactly; the probe set to one ascent step from zero; and the
ordinary task step under that probe. Unlike the released code, log-probabilities come
from prompt+response inputs, prompt masked, with logits shifted against their labels.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import torch
from trl import SFTTrainer

from taxfree.core.errors import InputError
from taxfree.data.datasets import read_table, render, require_text

log = logging.getLogger(__name__)


class Probes:
    """One vector per chosen layer, added to the output of that layer's down_proj."""

    def __init__(self, model: Any, layers: list[int]):
        modules = dict(model.named_modules())
        self.vectors: list[torch.Tensor] = []
        self.handles = []
        for layer in layers:
            name = next((n for n in modules if n.endswith(f"layers.{layer}.mlp.down_proj")), None)
            if name is None:
                raise ValueError(f"sap.layers: the model has no layer {layer} with an mlp.down_proj")
            module = modules[name]
            weight = module.weight if hasattr(module, "weight") else module.base_layer.weight
            vector = torch.zeros(weight.shape[0], dtype=torch.float32, device=weight.device)
            self.vectors.append(vector)
            self.handles.append(module.register_forward_hook(lambda _m, _a, out, v=vector: out + v.to(out.dtype)))

    def set(self, values: list[torch.Tensor]) -> None:
        for vector, value in zip(self.vectors, values):
            vector.copy_(value)

    @contextlib.contextmanager
    def differentiable(self) -> Iterator[list[torch.Tensor]]:
        """The vectors at zero, tracking gradients."""
        with torch.no_grad():
            for vector in self.vectors:
                vector.zero_()
                vector.requires_grad_(True)
        try:
            yield self.vectors
        finally:
            for vector in self.vectors:
                vector.requires_grad_(False)


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


def probe_values(model: Any, params: list[torch.Tensor], probes: Probes, safety_batch: dict[str, torch.Tensor],
                 task_loss: Any, rate: float, probe_lr: float) -> tuple[list[torch.Tensor], float]:
    """Steps 1-4 up to the probe: the probe vectors for this step, and the safety loss.

    ``task_loss()`` computes the task loss of the current batch with the model as it is.
    The weights are back to their exact values on return.
    """
    safety = preference_loss(model, safety_batch)
    grads = torch.autograd.grad(safety, params, allow_unused=True)
    grads = [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]
    g_norm = _norm(grads)
    # A saturated preference loss (refusal already far likelier) can leave no gradient at all.
    scale = rate * _norm(params) / g_norm if g_norm > 0 else torch.zeros((), dtype=torch.float64)
    backup = [p.detach().to(torch.float32, copy=True) for p in params]
    with torch.no_grad():
        for p, g in zip(params, grads):
            p.add_((scale * g.double()).to(p.dtype))
    try:
        with probes.differentiable() as vectors:
            probe_grads = torch.autograd.grad(task_loss(), vectors)
    finally:
        with torch.no_grad():
            for p, saved in zip(params, backup):
                p.copy_(saved)
    return [probe_lr * g.detach() for g in probe_grads], float(safety.detach())


class SAPTrainer(SFTTrainer):
    """SFTTrainer whose every step first sets the probes as SAP says; the task step itself is TRL's."""

    def __init__(self, *args: Any, sap: dict[str, Any], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.sap = sap
        tokenizer = self.processing_class
        self.pairs = tokenize_pairs(load_pairs(sap["pairs_path"], sap["columns"], sap["max_pairs"]), tokenizer,
                                    self.args.max_length)
        self.pad_id = tokenizer.pad_token_id
        self.probes = Probes(self.model, sap["layers"])
        self._next_pair = 0

    def _safety_batch(self, device: Any) -> dict[str, torch.Tensor]:
        size = min(self.sap["pairs_batch_size"], len(self.pairs))
        picked = [self.pairs[(self._next_pair + i) % len(self.pairs)] for i in range(size)]
        self._next_pair = (self._next_pair + size) % len(self.pairs)
        return collate_pairs(picked, self.pad_id, device)

    def training_step(self, model: Any, inputs: dict[str, Any], num_items_in_batch: Any = None) -> torch.Tensor:
        model.train()
        inputs = self._prepare_inputs(inputs)
        params = [p for p in model.parameters() if p.requires_grad]
        values, safety = probe_values(
            model, params, self.probes, self._safety_batch(inputs["input_ids"].device),
            lambda: self.compute_loss(model, dict(inputs), num_items_in_batch=num_items_in_batch),
            self.sap["rate"], self.sap["probe_lr"])
        self._metrics["train"]["sap_safety_loss"].append(safety)
        self.probes.set(values)
        return super().training_step(model, inputs, num_items_in_batch)
