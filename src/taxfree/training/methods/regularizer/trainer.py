"""Overlap regularizers: LoRA training that penalises the update's overlap with W0's top singular subspace.

docs/lora-safety.md (the LoRA-safety authors' code): ``L = L_SFT + beta * sum_m P_m`` over
the target modules, with ``dW = B A`` from the LoRA factors (without the alpha/r scale) and
``U_k, S_k, V_k`` from a randomized SVD of W0 (q = k), cached on disk:

- column (default): ``||S_k U_k^T dW||_F^2``
- uniform: ``||U_k^T dW||_F^2``
- row: ``||dW V_k S_k||_F^2``
- both: ``||S_k U_k^T dW V_k S_k||_F^2``

The norm form divides the penalty by ``||dW||_F^2 + 1e-8``, so it measures direction rather
than size, and each weighted span (``S_k U_k^T``, ``V_k S_k``) by its Frobenius norm. The
uniform span ``U_k^T`` stays as it is, as in the authors' code (their ``weighted=False``
skips the span's normalisation): its rows are orthonormal, so the uniform norm form is the
share of dW's energy in W0's top-k left subspace, in [0, 1].
Every product is taken through the factors, never forming dW (out x in).
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from trl import SFTTrainer

from taxfree.analysis.geometry import Subspace, top_subspace

log = logging.getLogger(__name__)

KINDS = ("column", "uniform", "row", "both")
_EPS = 1e-8


def _spans(subspace: Subspace, kind: str, norm: bool) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """(left k x out, right in x k) multipliers of dW for this kind; None where a side is not penalised."""
    if kind not in KINDS:
        raise ValueError(f"regularizer kind '{kind}': must be one of {', '.join(KINDS)}")
    U, S, V = subspace.U, subspace.S, subspace.V
    left = {"column": S[:, None] * U.T, "uniform": U.T, "both": S[:, None] * U.T}.get(kind)
    right = {"row": V * S, "both": V * S}.get(kind)
    if norm and kind != "uniform":
        left = None if left is None else left / torch.linalg.matrix_norm(left)
        right = None if right is None else right / torch.linalg.matrix_norm(right)
    return left, right


def overlap_penalty(B: torch.Tensor, A: torch.Tensor, subspace: Subspace, kind: str = "column",
                    norm: bool = False) -> torch.Tensor:
    """P for the update dW = B A (B: out x r, A: r x in) against W0's top-k ``subspace``."""
    return span_penalty(B, A, *_spans(subspace.to(A), kind, norm), norm)


def span_penalty(B: torch.Tensor, A: torch.Tensor, left: torch.Tensor | None, right: torch.Tensor | None,
                 norm: bool) -> torch.Tensor:
    """||left B A right||_F^2 (a missing side is the identity), over ||B A||_F^2 + 1e-8 in the norm form."""
    b = B if left is None else left @ B
    a = A if right is None else A @ right
    value = (b @ a).square().sum()
    if norm:  # ||B A||_F^2 = sum((B^T B) * (A A^T)) without forming B A
        value = value / ((B.T @ B) * (A @ A.T)).sum().add(_EPS)
    return value


class OverlapSFTTrainer(SFTTrainer):
    """TRL's SFTTrainer whose training loss adds ``beta * sum_m P_m`` over the LoRA modules in the target list.

    ``regularizer`` is the variant's resolved block: kind, norm, target_modules, beta, k,
    svd_cache. W0's subspaces are computed (or read from the cache) once, when the trainer
    is built.
    """

    def __init__(self, *args: Any, regularizer: dict[str, Any], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.regularizer = regularizer
        self.targets = self._targets()

    def _targets(self) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]]:
        """(B, A, left span, right span) per penalised adapter; the spans are fixed, so they are built once."""
        from peft.tuners.lora import LoraLayer

        spec, targets = self.regularizer, []
        for name, module in self.model.named_modules():
            if isinstance(module, LoraLayer) and name.rsplit(".", 1)[-1] in spec["target_modules"]:
                for adapter in module.active_adapters:
                    A = module.lora_A[adapter].weight
                    subspace = top_subspace(module.get_base_layer().weight, spec["k"], spec["svd_cache"])
                    spans = _spans(subspace.to(A), spec["kind"], spec["norm"])
                    targets.append((module.lora_B[adapter].weight, A, *spans))
        if not targets:
            raise ValueError(f"regularizer.target_modules {spec['target_modules']}: no LoRA module of the model "
                             "has one of these names")
        log.info("overlap regularizer %s%s on %d modules, beta %g, k %d", spec["kind"], " (norm)" * spec["norm"],
                 len(targets), spec["beta"], spec["k"])
        return targets

    def overlap_penalty(self) -> torch.Tensor:
        return sum(span_penalty(B, A, left, right, self.regularizer["norm"]) for B, A, left, right in self.targets)

    def _penalty_scale(self, num_items_in_batch: Any) -> float:
        """1 / accumulation steps when the trainer will not divide the loss itself, so that beta
        weighs the penalty once per optimizer step whatever the accumulation."""
        scaled = self.loss_is_scaled_for_ga
        if scaled is None:
            scaled = (self.model_accepts_loss_kwargs and num_items_in_batch is not None) or \
                self.compute_loss_func is not None
        return 1 / self.current_gradient_accumulation_steps if scaled else 1.0

    def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False,
                     num_items_in_batch: Any = None) -> Any:
        result = super().compute_loss(model, inputs, return_outputs=return_outputs,
                                      num_items_in_batch=num_items_in_batch)
        if not model.training:
            return result
        penalty = self.overlap_penalty()
        self._metrics["train"]["overlap_penalty"].append(float(penalty.detach()))
        added = self.regularizer["beta"] * self._penalty_scale(num_items_in_batch) * penalty
        if return_outputs:
            return result[0] + added, result[1]
        return result + added
