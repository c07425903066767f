"""Weight geometry of an update dW: stable rank, norms, and overlap with W0's top singular subspaces.

docs/lora-safety.md. The update of a full fine-tune is ``W_ft - W0``; a LoRA update is
PEFT's own ``get_delta_weight`` (the scaled ``B A``), taken from the factors so that a
rank-r update stays exactly rank r. The top-k singular vectors of W0 come from a
randomized SVD cached on disk by a hash of W0's bytes, shared with the regularizers and
merges.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from peft import PeftModel
from peft.tuners.lora import LoraLayer

from taxfree.core.models import is_adapter, load_model

log = logging.getLogger(__name__)

_LAYER = re.compile(r"\.layers\.(\d+)\.")


@dataclass(frozen=True)
class Subspace:
    """W0 ~ U diag(S) V^T restricted to the top k singular triples (U: out x k, V: in x k)."""

    U: torch.Tensor
    S: torch.Tensor
    V: torch.Tensor

    def top(self, k: int) -> Subspace:
        return Subspace(self.U[:, :k], self.S[:k], self.V[:, :k])

    def to(self, like: torch.Tensor) -> Subspace:
        return Subspace(*(t.to(device=like.device, dtype=like.dtype) for t in (self.U, self.S, self.V)))


def weight_hash(weight: torch.Tensor) -> str:
    """SHA-256 of a tensor's shape, dtype and bytes: the SVD cache key."""
    tensor = weight.detach().contiguous().cpu()
    digest = hashlib.sha256(f"{tuple(tensor.shape)}:{tensor.dtype}".encode())
    digest.update(tensor.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _svd(weight: torch.Tensor, q: int, niter: int) -> Subspace:
    w = weight.detach().float()
    if q >= min(w.shape):  # small enough for the exact decomposition
        U, S, Vh = torch.linalg.svd(w, full_matrices=False)
        return Subspace(U[:, :q], S[:q], Vh[:q].T)
    # svd_lowrank draws a random test matrix: seeding it makes the cache reproducible.
    with torch.random.fork_rng(devices=[w.device] if w.device.type == "cuda" else []):
        torch.manual_seed(0)
        U, S, V = torch.svd_lowrank(w, q=q, niter=niter)
    return Subspace(U, S, V)


def top_subspace(weight: torch.Tensor, k: int, cache_dir: str | Path | None = None, niter: int = 2,
                 oversample: int = 0) -> Subspace:
    """The top-k singular triples of ``weight`` by ``torch.svd_lowrank`` (q = k + oversample), cached on disk.

    q = k with niter 2 is the LoRA-safety authors' choice; the analysis oversamples for
    accuracy. The cache file is named by the weight's hash, q and niter, so any run on
    the same base weights reuses it; it is written atomically, so parallel jobs are safe.
    """
    q = min(k + oversample, *weight.shape)
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / f"{weight_hash(weight)[:40]}-q{q}-n{niter}.pt"
        if path.is_file():
            return Subspace(*torch.load(path, map_location=weight.device)).top(k)
    subspace = _svd(weight, q, niter)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        torch.save([t.cpu() for t in (subspace.U, subspace.S, subspace.V)], tmp)
        os.replace(tmp, path)
    return subspace.top(k)


def norms(delta: torch.Tensor) -> dict[str, float]:
    """Frobenius and spectral norms, and the stable rank ||dW||_F^2 / ||dW||_2^2 (between 1 and rank(dW))."""
    values = torch.linalg.svdvals(delta.float())
    fro2, spec2 = float(values.square().sum()), float(values[0].square())
    return {"fro_norm": fro2 ** 0.5, "spectral_norm": spec2 ** 0.5, "stable_rank": fro2 / spec2}


def stable_rank(delta: torch.Tensor) -> float:
    return norms(delta)["stable_rank"]


def overlaps(delta: torch.Tensor, subspace: Subspace) -> dict[str, float]:
    """Share of the update's energy in W0's top-k left, right and both-sided subspaces (each in [0, 1])."""
    delta = delta.float()
    U, V = subspace.U.to(delta), subspace.V.to(delta)
    energy = delta.square().sum()
    left = U.T @ delta
    return {"overlap_left": float(left.square().sum() / energy),
            "overlap_right": float((delta @ V).square().sum() / energy),
            "overlap_both": float((left @ V).square().sum() / energy)}


def layer_and_module(name: str) -> tuple[int | None, str]:
    """(decoder layer index, module type) of a module name like ``model.layers.3.mlp.up_proj``."""
    match = _LAYER.search(name)
    return (int(match.group(1)) if match else None), name.rsplit(".", 1)[-1]


@dataclass
class LinearUpdate:
    """One linear module's update: ``weight`` is the parameter a merge writes, ``base`` is W0."""

    name: str
    weight: torch.Tensor
    base: torch.Tensor
    delta: torch.Tensor


class ModelUpdate:
    """A tuned model seen as its starting weights W0 plus an update.

    ``tuned`` is a full model directory (dW = W_ft - W0 for every decoder linear module that
    changed) or a LoRA adapter (dW = PEFT's scaled B A of every adapted module, exact).
    """

    def __init__(self, reference: str | Path, tuned: str | Path, load: dict[str, Any] | None = None):
        load = load or {}
        self.adapter = is_adapter(tuned)
        if self.adapter:
            self.model = PeftModel.from_pretrained(load_model(reference, **load), str(tuned))
            self.reference: dict[str, torch.Tensor] = {}
        else:
            self.model = load_model(tuned, **load)
            self.reference = dict(load_model(reference, **load).named_parameters())

    def linear(self) -> Iterator[LinearUpdate]:
        """Every decoder linear module the update touches, in model order."""
        if self.adapter:
            for name, module in self.model.named_modules():
                if isinstance(module, LoraLayer) and module.active_adapters:
                    weight = module.get_base_layer().weight
                    delta = sum(module.get_delta_weight(a) for a in module.active_adapters)
                    yield LinearUpdate(name.removeprefix("base_model.model."), weight, weight, delta)
            return
        for name, module in self.model.named_modules():
            if isinstance(module, torch.nn.Linear) and _LAYER.search(name):
                base = self.reference[f"{name}.weight"]
                delta = module.weight.detach().float() - base.detach().float()  # bf16 would round dW away
                if delta.any():
                    yield LinearUpdate(name, module.weight, base, delta)

    def others(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(parameter, W0) of every other parameter of a full fine-tune (embeddings, norms, head).

        An adapter has none: biases that LoRA trained (bias != none) stay as trained.
        """
        if self.adapter:
            return
        linear = {f"{name}.weight" for name, module in self.model.named_modules()
                  if isinstance(module, torch.nn.Linear) and _LAYER.search(name)}
        for name, param in self.model.named_parameters():
            if name not in linear:
                yield param, self.reference[name]

    def plain_model(self) -> Any:
        """The tuned model without PEFT wrappers (adapters dropped, not merged: merges write weights themselves)."""
        return self.model.unload() if self.adapter else self.model


def analyse(reference: str | Path, tuned: str | Path, ks: list[int], svd_cache: str | Path | None = None,
            niter: int = 4, oversample: int = 8, load: dict[str, Any] | None = None) -> pd.DataFrame:
    """One row per (updated linear module, k): norms, stable rank and overlaps with W0's top-k subspaces."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    update = ModelUpdate(reference, tuned, load)
    rows = []
    with torch.no_grad():
        for n, item in enumerate(update.linear()):
            layer, module = layer_and_module(item.name)
            delta, base = item.delta.to(device, torch.float32), item.base.detach().to(device)
            measured = norms(delta)
            subspace = top_subspace(base, max(ks), svd_cache, niter=niter, oversample=oversample)
            common = {"layer": layer, "module": module, "name": item.name, "rows": delta.shape[0],
                      "cols": delta.shape[1], **measured}
            rows += [{**common, "k": k, **overlaps(delta, subspace.top(k))} for k in sorted(ks)]
            if n % 20 == 0:
                log.info("%s: stable rank %.2f", item.name, measured["stable_rank"])
    if not rows:
        raise ValueError(f"{tuned}: no linear module differs from {reference}")
    return pd.DataFrame(rows)
