"""Method `dpo`: TRL's DPOTrainer on chosen/rejected pairs (SaRO's SRPO stage), full or LoRA.

The reference is always the starting model. TRL would reload it from the config's name,
which for a merged adapter is the adapter's base, not the start: so a full-parameter run
gets its own copy. With LoRA the reference is the model with the adapter switched off;
precomputed log-probs need no copy at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from taxfree.config.schema import resolve_block, resolve_training
from taxfree.core.errors import ConfigError
from taxfree.training.methods.base import Method
from taxfree.training.methods.sft import lora_config, resolve_dataset, resolve_lora


def dpo_arguments(training: dict[str, Any], dpo: dict[str, Any], output_dir: str | Path) -> Any:
    """DPOConfig from resolved ``training`` and ``dpo`` blocks; ``sft_weight`` adds an NLL term (RPO)."""
    # TRL loads only when a job trains: config resolution imports this module.
    from trl import DPOConfig

    from taxfree.training.arguments import training_arguments

    losses = {dpo["loss_type"]: 1.0, **({"sft": dpo["sft_weight"]} if dpo["sft_weight"] else {})}
    return training_arguments(DPOConfig, training, output_dir, beta=dpo["beta"], loss_type=list(losses),
                              loss_weights=list(losses.values()),
                              precompute_ref_log_probs=dpo["reference"] == "precomputed")


class DPO(Method):
    name = "dpo"
    description = "DPO on preference pairs"
    data = "pairs"
    default_epochs = 1  # a single pass over the pairs
    blocks = ("dpo", "lora")

    def resolve(self, config: dict[str, Any], variant: dict[str, Any], name: str) -> dict[str, Any]:
        spec: dict[str, Any] = {"method": self.name, **({"from": variant["from"]} if "from" in variant else {})}
        spec["dataset"] = resolve_dataset(config, variant, name, pairs=True)
        spec["training"] = resolve_training(config, variant.get("training", {}), f"variants.{name}.training",
                                            self.default_epochs)
        spec["dpo"] = resolve_block(variant.get("dpo", {}), "dpo", f"variants.{name}.dpo")
        if spec["dpo"]["parameters"] == "lora":
            spec["lora"] = resolve_lora(config, variant, name)
        elif "lora" in variant:
            raise ConfigError(f"config key 'variants.{name}.lora': a `dpo` variant takes LoRA settings only with "
                              "parameters lora")
        return spec

    def weights(self, spec: dict[str, Any]) -> str:
        return spec["dpo"]["parameters"]

    def build_trainer(self, base: str, data: str, spec: dict[str, Any], output_dir: str,
                      load: dict[str, Any]) -> Any:
        # TRL and torch load only when a job trains: config resolution imports this module.
        from trl import DPOTrainer

        from taxfree.core.models import load_model, load_tokenizer
        from taxfree.data.preferences import load_preference_dataset

        dpo = spec["dpo"]
        tokenizer = load_tokenizer(base, load.get("trust_remote_code", False))
        model = load_model(base, **load)
        peft = lora_config(model, spec["lora"]) if dpo["parameters"] == "lora" else None
        keep_copy = peft is None and dpo["reference"] == "model"
        ref = load_model(base, **load) if keep_copy else None
        return DPOTrainer(model=model, ref_model=ref, args=dpo_arguments(spec["training"], dpo, output_dir), train_dataset=load_preference_dataset(data, tokenizer),
                          processing_class=tokenizer, peft_config=peft)


METHODS = (DPO(),)
