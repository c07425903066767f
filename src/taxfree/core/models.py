"""Loading models and tokenizers: hub ids, local directories and LoRA adapters alike.

torch, transformers and peft load inside the functions that need them: config resolution
imports this module for ``LINEAR_GROUPS`` at every workflow start.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

LINEAR_GROUPS = {
    "attn": ("q_proj", "k_proj", "v_proj", "o_proj"),
    "mlp": ("gate_proj", "up_proj", "down_proj"),
}
LINEAR_GROUPS["all"] = LINEAR_GROUPS["attn"] + LINEAR_GROUPS["mlp"]


# load_model's keyword arguments that a model's config block sets (`models.<name>`).
LOAD_KEYS = ("trust_remote_code", "dtype", "attn_implementation")


def load_options(model: dict[str, Any]) -> dict[str, Any]:
    """The load_model keywords of a config's model block: every load of that model uses the same."""
    return {key: model[key] for key in LOAD_KEYS if key in model}


def is_adapter(path: str | Path) -> bool:
    return (Path(path) / "adapter_config.json").is_file()


def load_tokenizer(path: str | Path, trust_remote_code: bool = False, padding_side: str = "right",
                   revision: str | None = None) -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code, padding_side=padding_side,
                                              revision=revision)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def adapter_base(path: str | Path) -> str:
    """The model a LoRA adapter was trained on (itself an adapter when variants are chained)."""
    return json.loads((Path(path) / "adapter_config.json").read_text())["base_model_name_or_path"]


def set_adapter_base(path: str | Path, base: str | Path) -> None:
    """Record ``base`` as the model an adapter applies to. PEFT records the name of the weights it
    was given, which for a merged parent adapter is the parent's own base, dropping the parent."""
    config_path = Path(path) / "adapter_config.json"
    config = json.loads(config_path.read_text())
    config["base_model_name_or_path"] = str(base)
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def load_model(path: str | Path, trust_remote_code: bool = False, merge_adapter: bool = True,
               dtype: str = "auto", revision: str | None = None, attn_implementation: str = "sdpa") -> Any:
    """A causal LM from a model directory, hub id, or LoRA adapter directory (merged for speed).

    ``dtype`` ``auto`` keeps the checkpoint's own (bf16 for the paper models, fp32 for the toy), so
    training and merging save what they loaded. An adapter's base is loaded the same way, so an
    adapter trained on another adapter's variant carries both updates.
    """
    from transformers import AutoModelForCausalLM

    if is_adapter(path):
        from peft import PeftModel

        base = load_model(adapter_base(path), trust_remote_code, dtype=dtype, attn_implementation=attn_implementation)
        model = PeftModel.from_pretrained(base, str(path))
        if not merge_adapter:
            return model
        # PEFT froze the base weights; a merged model must train like any loaded one (e.g. a `from` variant).
        return model.merge_and_unload().requires_grad_(True)
    return AutoModelForCausalLM.from_pretrained(path, trust_remote_code=trust_remote_code, dtype=dtype,
                                                revision=revision, attn_implementation=attn_implementation)


def expand_target_modules(model: Any, requested: list[str]) -> list[str]:
    """Module names for PEFT from names or groups; an unknown name lists the model's linear modules."""
    import torch

    available = sorted({name.rsplit(".", 1)[-1] for name, module in model.named_modules()
                        if isinstance(module, torch.nn.Linear) and name.rsplit(".", 1)[-1] != "lm_head"})
    names: list[str] = []
    for item in requested:
        for name in LINEAR_GROUPS.get(item, (item,)):
            if name not in available:
                raise ValueError(f"lora.target_modules: '{name}' is not a linear module of this model "
                                 f"(its linear modules: {', '.join(available)}; groups: {', '.join(LINEAR_GROUPS)})")
            if name not in names:
                names.append(name)
    return names


def save_base_model(model_id: str, out_dir: str | Path, revision: str | None = None,
                    load: dict[str, Any] | None = None) -> None:
    """Copy a hub model (or local directory) into the pipeline as its starting model, in the dtype
    ``load`` asks for (the load options of the model's config block)."""
    load = load or {}
    load_tokenizer(model_id, load.get("trust_remote_code", False), revision=revision).save_pretrained(out_dir)
    load_model(model_id, revision=revision, **load).save_pretrained(out_dir)


def resolve_layers(model: Any, layers: str | dict[str, int] | None) -> list[int] | None:
    """Layer indices from a third's name or an inclusive range; a range outside the model names its size."""
    n = model.config.num_hidden_layers
    if layers is None:
        return None
    if isinstance(layers, str):
        third = {"early": 0, "middle": 1, "late": 2}[layers]
        return list(range(third * n // 3, (third + 1) * n // 3))
    if not 0 <= layers["from"] <= layers["to"] < n:
        raise ValueError(f"lora.layers: range {layers['from']}..{layers['to']} is outside the model, "
                         f"which has {n} layers (0..{n - 1})")
    return list(range(layers["from"], layers["to"] + 1))
