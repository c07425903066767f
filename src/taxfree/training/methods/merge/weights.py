"""Merges of a trained variant into its starting weights: plain, projected off W0's top-k subspace, alpha-scaled.

docs/lora-safety.md: ``W = W0 + alpha dW'`` where ``dW' = dW`` (plain) or
``(I - U_k U_k^T) dW`` (projected, one-sided) or ``(I - U_k U_k^T) dW (I - V_k V_k^T)``
(two-sided), with U_k, V_k W0's top-k singular vectors. The projection applies to the
decoder's linear modules; other parameters a full fine-tune changed (embeddings, norms,
head) are merged with the same alpha. The result is a plain model directory, evaluated
like any variant.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from taxfree.analysis.geometry import ModelUpdate, Subspace, top_subspace
from taxfree.core.io import atomic_path
from taxfree.core.models import load_tokenizer

log = logging.getLogger(__name__)


def project_off(delta: torch.Tensor, subspace: Subspace, sides: str = "one") -> torch.Tensor:
    """The update without its component in W0's top-k left subspace (``one``) or left and right (``two``)."""
    U = subspace.U.to(delta)
    delta = delta - U @ (U.T @ delta)
    if sides == "two":
        V = subspace.V.to(delta)
        delta = delta - (delta @ V) @ V.T
    return delta


def merged_weight(base: torch.Tensor, delta: torch.Tensor, spec: dict[str, Any]) -> torch.Tensor:
    """W0 + alpha dW', computed in float32."""
    base, delta = base.detach().float(), delta.detach().float()
    if spec["kind"] == "projected":
        subspace = top_subspace(base, spec["k"], spec["svd_cache"], niter=spec["niter"], oversample=spec["oversample"])
        delta = project_off(delta, subspace, spec["sides"])
    return base + spec["alpha"] * delta


def merge_model(reference: str | Path, tuned: str | Path, out_dir: str | Path, spec: dict[str, Any],
                load: dict[str, Any] | None = None) -> None:
    """Write the merge of ``tuned`` (a model or LoRA adapter) into ``reference`` (its W0) to ``out_dir``.

    ``spec`` is the variant's resolved ``merge`` block: kind (plain|projected), sides
    (one|two), k, alpha, and the SVD's svd_cache, niter and oversample. ``load`` holds load_model's
    options (the model's config block); the merge is saved in the dtype the models load in.
    """
    load = load or {}
    update = ModelUpdate(reference, tuned, load)
    with torch.no_grad():
        merged = 0
        for item in update.linear():  # each module's update depends on its own W0 only: safe in place
            item.weight.copy_(merged_weight(item.base, item.delta, spec))
            merged += 1
        for param, base in update.others():
            param.copy_(base.float() + spec["alpha"] * (param.float() - base.float()))
    log.info("merged %d linear modules (%s, alpha %g)", merged, spec["kind"], spec["alpha"])
    with atomic_path(out_dir) as tmp:
        update.plain_model().save_pretrained(tmp)
        load_tokenizer(reference, load.get("trust_remote_code", False)).save_pretrained(tmp)
