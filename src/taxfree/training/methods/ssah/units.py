"""SSAH: safety-critical units, their scores and types, and training with some of them frozen (docs/ssah.md).

A unit is a structure of a two-layer block ``f(X) = B s(A X)``: in the MLP one neuron j
(row j of gate_proj and up_proj, column j of down_proj); in attention one head h (its
head_dim rows of q_proj, its columns of o_proj, and the rows of k_proj and v_proj of its
key/value group). Its score, in the style of FLAP, is the fluctuation of B's inputs over
calibration tokens times the squared norm of B's columns, summed over the unit's
channels, then standardised within its block so that no block's units win the ranking
for larger activations alone. Scores on safety data (I_S) and utility data (I_U) sort
units into four types: RU (redundant, lowest I_S + I_U), SCU (safety-critical, highest
I_S - I_U), UCU (utility-critical, lowest I_S - I_U) and CU (complex, the rest).

With grouped-query attention several heads share one k/v group. Freezing a head freezes
its whole group's k/v rows (a frozen head keeps the very keys and values it attends
with, at the cost of freezing them for the group's other heads too); pruning a head
zeroes its group's k/v rows only when every head of the group is pruned, since zeroing
its q rows and o columns already removes its output.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from trl import SFTTrainer

from taxfree.core.inference import chat_prompt, generate_texts
from taxfree.data.datasets import load_sft_rows, render
from taxfree.evaluation.judges import JUDGES

log = logging.getLogger(__name__)

TYPES = ("scu", "ucu", "ru", "cu")
MLP_A = ("gate_proj", "up_proj")


@dataclass
class Block:
    """One two-layer block: B, the A modules whose rows are B's input channels, and, for attention, the k/v
    modules whose rows come one group of heads at a time."""

    name: str
    b: torch.nn.Linear
    a: dict[str, torch.nn.Linear]
    width: int = 1  # channels per unit: 1 for an MLP neuron, head_dim for an attention head
    shared: dict[str, torch.nn.Linear] = field(default_factory=dict)  # k_proj, v_proj
    group: int = 1  # heads per k/v group

    @property
    def units(self) -> int:
        return self.b.in_features // self.width


def attention_shape(model: Any) -> tuple[int, int, int]:
    """(heads, k/v heads, head_dim) from the model's (text) config."""
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    heads = config.num_attention_heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    return heads, kv_heads, head_dim


def find_blocks(model: Any) -> list[Block]:
    """Every MLP (down_proj) and attention (o_proj) block of a decoder, with its A and k/v modules."""
    modules = dict(model.named_modules())
    heads, kv_heads, head_dim = attention_shape(model)
    blocks = []
    for name, module in modules.items():
        parent, _, leaf = name.rpartition(".")
        if not isinstance(module, torch.nn.Linear) or leaf not in ("down_proj", "o_proj"):
            continue
        near = {n: modules[f"{parent}.{n}"] for n in ("gate_proj", "up_proj", "q_proj", "k_proj", "v_proj")
                if f"{parent}.{n}" in modules}
        if leaf == "down_proj":
            blocks.append(Block(name, module, {f"{parent}.{n}": near[n] for n in MLP_A if n in near}))
            continue
        if "q_proj" not in near:
            raise ValueError(f"ssah: {name} has no q_proj beside it to take attention heads from")
        if module.in_features != heads * head_dim:
            raise ValueError(f"ssah: {name} reads {module.in_features} channels, not {heads} heads x {head_dim}")
        if heads % kv_heads:
            raise ValueError(f"ssah: {heads} attention heads do not split into {kv_heads} key/value groups")
        shared = {f"{parent}.{n}": near[n] for n in ("k_proj", "v_proj") if n in near}
        if any(m.out_features != kv_heads * head_dim for m in shared.values()):
            raise ValueError(f"ssah: {parent}'s k/v rows are not {kv_heads} groups x {head_dim}")
        blocks.append(Block(name, module, {f"{parent}.q_proj": near["q_proj"]}, head_dim, shared, heads // kv_heads))
    if not blocks:
        raise ValueError("ssah: the model has no down_proj or o_proj linear modules to take units from")
    return blocks


@torch.no_grad()
def fluctuation_scores(model: Any, batches: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Per block and unit, ``sum_{j in unit} var_n(X_{n,j}) * ||W^B_{:,j}||^2`` over the non-padding tokens."""
    blocks = find_blocks(model)
    sums = {b.name: torch.zeros(b.b.in_features, dtype=torch.float64) for b in blocks}
    squares = {b.name: torch.zeros(b.b.in_features, dtype=torch.float64) for b in blocks}
    count = 0
    mask: torch.Tensor | None = None

    def hook(name: str):
        def record(_module: Any, args: tuple[torch.Tensor, ...]) -> None:
            x = args[0][mask].double().cpu()
            sums[name] += x.sum(0)
            squares[name] += (x * x).sum(0)
        return record

    handles = [b.b.register_forward_pre_hook(hook(b.name)) for b in blocks]
    try:
        model.eval()
        for batch in batches:
            mask = batch["attention_mask"].bool()
            count += int(mask.sum())
            model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    finally:
        for handle in handles:
            handle.remove()
    if count < 2:
        raise ValueError("ssah: calibration data has fewer than two tokens")
    scores = {}
    for b in blocks:
        mean = sums[b.name] / count
        variance = (squares[b.name] - count * mean * mean) / (count - 1)
        channel = variance.clamp_min(0) * b.b.weight.detach().double().cpu().pow(2).sum(0)
        scores[b.name] = channel.view(b.units, b.width).sum(1).float()
    return scores


def standardise(scores: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """FLAP's normalisation: each block's scores less their mean, over their standard deviation (a block whose
    scores do not vary, or that has one unit, scores 0), so ranks across blocks compare like with like."""
    out = {}
    for name, s in scores.items():
        std = s.std() if len(s) > 1 else torch.tensor(0.0)
        out[name] = (s - s.mean()) / std if std > 0 else torch.zeros_like(s)
    return out


def unit_scores(model: Any, batches: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Standardised fluctuation scores: what units are typed by."""
    return standardise(fluctuation_scores(model, batches))


def classify(safety: dict[str, torch.Tensor], utility: dict[str, torch.Tensor], scu_fraction: float,
             ucu_fraction: float, ru_fraction: float) -> dict[str, list[str]]:
    """Each unit's type, by rank over all units of the model; SCU, then UCU, then RU take
    their share from the units not yet typed, and the rest are CU."""
    names = list(safety)
    s = torch.cat([safety[n] for n in names])
    u = torch.cat([utility[n] for n in names])
    total = len(s)
    types = ["cu"] * total
    free = torch.ones(total, dtype=torch.bool)
    for kind, key, fraction in (("scu", -(s - u), scu_fraction), ("ucu", s - u, ucu_fraction),
                                ("ru", s + u, ru_fraction)):
        taken = 0
        for i in torch.argsort(key, stable=True).tolist():
            if taken >= round(fraction * total):
                break
            if free[i]:
                types[i], free[i], taken = kind, False, taken + 1
    out, start = {}, 0
    for n in names:
        out[n] = types[start:start + len(safety[n])]
        start += len(safety[n])
    return out


def top_complex(types: dict[str, list[str]], safety: dict[str, torch.Tensor], utility: dict[str, torch.Tensor],
                fraction: float) -> dict[str, list[bool]]:
    """The CU with the highest ``I_S + I_U``, ``fraction`` of all units."""
    ranked = sorted(((float(safety[n][j] + utility[n][j]), n, j) for n in types for j, t in enumerate(types[n])
                     if t == "cu"), reverse=True)
    chosen = {(n, j) for _, n, j in ranked[:round(fraction * sum(map(len, types.values())))]}
    return {n: [(n, j) in chosen for j in range(len(t))] for n, t in types.items()}


def selected_units(types: dict[str, list[str]], wanted: list[str],
                   top_cu: dict[str, list[bool]] | None = None) -> dict[str, torch.Tensor]:
    """Boolean per block: the units of the ``wanted`` types (``top_cu`` counts as one)."""
    with_top = "top_cu" in wanted and top_cu is not None
    return {n: torch.tensor([t in wanted or (with_top and top_cu[n][j]) for j, t in enumerate(ts)], dtype=torch.bool)
            for n, ts in types.items()}


def weight_masks(model: Any, units: dict[str, torch.Tensor],
                 kv_group: Literal["any", "all"] = "any") -> dict[str, torch.Tensor]:
    """Parameter name -> boolean mask of the entries that belong to the given units: B's columns, the A modules'
    rows (and bias entries), and the k/v rows of a group of heads when ``any`` (freezing) or ``all`` (pruning) of
    the group's heads are chosen."""
    params = {id(p): n for n, p in model.named_parameters()}
    masks: dict[str, torch.Tensor] = {}

    def rows(module: torch.nn.Linear, chosen: torch.Tensor) -> None:
        masks[params[id(module.weight)]] = chosen.unsqueeze(1).expand_as(module.weight).clone()
        if module.bias is not None:
            masks[params[id(module.bias)]] = chosen.clone()

    for block in find_blocks(model):
        chosen = units[block.name].to(block.b.weight.device)
        channels = chosen.repeat_interleave(block.width)
        masks[params[id(block.b.weight)]] = channels.unsqueeze(0).expand_as(block.b.weight).clone()
        for module in block.a.values():
            rows(module, channels)
        if block.shared:
            groups = chosen.view(-1, block.group)
            kv = (groups.any(1) if kv_group == "any" else groups.all(1)).repeat_interleave(block.width)
            for module in block.shared.values():
                rows(module, kv)
    return masks


def type_table(types: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Tidy rows: block kind (mlp/attn), layer, type, units and their share of the model's units."""
    total = sum(map(len, types.values()))
    rows = []
    for name, ts in types.items():
        layer = next((int(p) for p in name.split(".") if p.isdigit()), -1)
        kind = "mlp" if name.endswith("down_proj") else "attn"
        for t in TYPES:
            rows.append({"block": kind, "layer": layer, "type": t, "units": ts.count(t),
                         "fraction": ts.count(t) / total})
    return rows


@torch.no_grad()
def prune(model: Any, units: dict[str, torch.Tensor]) -> None:
    """Zero the given units in place: their rows of A and columns of B, and k/v groups whose heads all go."""
    for name, mask in weight_masks(model, units, kv_group="all").items():
        model.get_parameter(name).masked_fill_(mask, 0.0)


class FrozenUnits:
    """Keeps chosen weight entries fixed through training by an AdamW-family optimizer.

    Gradient hooks zero their gradients, so Adam's moments, and its update, stay zero there.
    Decoupled weight decay would still shrink them, so the parameters holding them move to a
    group without decay and get their decay applied here, to the other entries only.
    """

    def __init__(self, model: Any, masks: dict[str, torch.Tensor]):
        self.frozen = {model.get_parameter(n): m for n, m in masks.items()}
        self.handles = [p.register_hook(lambda grad, m=m: grad.masked_fill(m, 0.0)) for p, m in self.frozen.items()]

    def attach(self, optimizer: torch.optim.Optimizer) -> None:
        moved = []
        for group in optimizer.param_groups:
            mine = [p for p in group["params"] if p in self.frozen]
            if mine and group["weight_decay"]:
                group["params"] = [p for p in group["params"] if p not in self.frozen]
                moved.append({**group, "params": mine, "weight_decay": 0.0, "unit_decay": group["weight_decay"]})
        for group in moved:
            optimizer.add_param_group(group)
        optimizer.register_step_pre_hook(self._decay)

    def _decay(self, optimizer: torch.optim.Optimizer, _args: Any, _kwargs: Any) -> None:
        with torch.no_grad():
            for group in optimizer.param_groups:
                if group.get("unit_decay"):
                    for p in group["params"]:
                        p.mul_(torch.where(self.frozen[p], 1.0, 1.0 - group["lr"] * group["unit_decay"]))


def calibration_batches(path: str, tokenizer: Any, n: int, max_length: int, batch_size: int = 16) -> list[dict]:
    """The first ``n`` rows of a prepared prompt/completion JSONL as padded token batches."""
    rows = load_sft_rows(path)[:n]
    texts = [text["prompt"] + text["completion"] for text in (render(row, tokenizer) for row in rows)]
    return [dict(tokenizer(texts[i:i + batch_size], return_tensors="pt", padding=True, truncation=True,
                           max_length=max_length, add_special_tokens=False))
            for i in range(0, len(texts), batch_size)]


def unit_types(model: Any, tokenizer: Any, ssah: dict[str, Any], max_length: int) -> tuple[dict, dict, dict]:
    """Scores on the spec's safety and utility calibration data and the types they give: (types, I_S, I_U)."""
    safety = unit_scores(model, calibration_batches(ssah["safety_path"], tokenizer, ssah["n_calibration"], max_length))
    utility = unit_scores(model, calibration_batches(ssah["utility_path"], tokenizer, ssah["n_calibration"],
                                                     max_length))
    types = classify(safety, utility, ssah["scu_fraction"], ssah["ucu_fraction"], ssah["ru_fraction"])
    return types, safety, utility


def freeze_masks(model: Any, tokenizer: Any, ssah: dict[str, Any], max_length: int) -> dict[str, torch.Tensor]:
    """Weight masks of the units the spec freezes, scored on ``model`` as it is."""
    types, safety, utility = unit_types(model, tokenizer, ssah, max_length)
    top_cu = top_complex(types, safety, utility, ssah["top_cu_fraction"])
    units = selected_units(types, ssah["freeze"], top_cu)
    n_frozen = sum(int(u.sum()) for u in units.values())
    log.info("ssah: freezing %d of %d units (%s)", n_frozen, sum(map(len, units.values())), ", ".join(ssah["freeze"]))
    return weight_masks(model, units)


class FrozenUnitsTrainer(SFTTrainer):
    """SFTTrainer that keeps the masked weight entries (and, with ``freeze_other``, every other
    parameter outside the units) exactly where they started."""

    def __init__(self, *args: Any, masks: dict[str, torch.Tensor], freeze_other: bool = False, **kwargs: Any):
        model = kwargs["model"]
        if freeze_other:
            for name, param in model.named_parameters():
                param.requires_grad_(name in masks)
        self.frozen_units = FrozenUnits(model, masks)
        super().__init__(*args, **kwargs)

    def create_optimizer(self, model: Any = None) -> torch.optim.Optimizer:
        fresh = self.optimizer is None
        optimizer = super().create_optimizer(model)
        if fresh:
            self.frozen_units.attach(optimizer)
        return optimizer


def random_units_like(units: dict[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor]:
    """As many units per block as ``units`` has, drawn at random: the control for pruning."""
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for name, chosen in units.items():
        pick = torch.zeros_like(chosen)
        pick[torch.randperm(len(chosen), generator=gen)[:int(chosen.sum())]] = True
        out[name] = pick
    return out


def pruning_validation(model: Any, tokenizer: Any, types: dict[str, list[str]], prompts: list[str],
                       generation: dict[str, Any], judge: str, seed: int) -> list[dict[str, Any]]:
    """Refusal on ``prompts`` of the model as it is, with its SCU zeroed, and with as many random units zeroed.

    ``generation``: the safety benchmark's max_new_tokens, temperature, top_p and batch_size.
    """
    scu = selected_units(types, ["scu"])
    texts = [chat_prompt(tokenizer, prompt) for prompt in prompts]
    rows = []
    for pruned, units in (("none", None), ("scu", scu), ("random", random_units_like(scu, seed))):
        candidate = copy.deepcopy(model)
        if units is not None:
            prune(candidate, units)
        responses = generate_texts(candidate.eval(), tokenizer, texts, generation["max_new_tokens"],
                                   generation["temperature"], generation["top_p"], generation["batch_size"], seed)
        judged = JUDGES[judge]().judge([{"prompt": p, **r} for p, r in zip(prompts, responses)])
        field = JUDGES[judge].field
        rows.append({"pruned": pruned, "units": sum(int(u.sum()) for u in units.values()) if units else 0,
                     "n": len(judged), JUDGES[judge].metric: sum(bool(r[field]) for r in judged) / len(judged)})
        log.info("ssah pruning %s: %s", pruned, rows[-1])
    return rows
