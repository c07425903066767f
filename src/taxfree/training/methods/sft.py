"""Methods `full` and `lora`: supervised fine-tuning with TRL's SFTTrainer on prompt/completion rows.

The loss is on the completion only. An extension block (regularizer, sap, ssah) swaps the
trainer class; everything else (data, arguments, adapters) is the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from taxfree.config.schema import check, deep_merge, definition, resolve_training
from taxfree.core.errors import ConfigError
from taxfree.training.methods.base import Method


def resolve_dataset(config: dict[str, Any], variant: dict[str, Any], name: str, pairs: bool) -> str:
    """The variant's data set, which must exist and hold candidates exactly when ``pairs``."""
    dataset = variant.get("dataset")
    where = f"config key 'variants.{name}.dataset'"
    if dataset not in config.get("datasets", {}):
        raise ConfigError(f"{where}: unknown data set '{dataset}' (have: {', '.join(config.get('datasets', {})) or 'none'})")
    candidates = config["datasets"][dataset].get("format") == "candidates"
    if pairs and not candidates:
        raise ConfigError(f"{where}: method dpo needs a data set with format candidates")
    if candidates and not pairs:
        raise ConfigError(f"{where}: a data set with format candidates is for method dpo only")
    return dataset


def resolve_lora(config: dict[str, Any], variant: dict[str, Any], name: str) -> dict[str, Any]:
    """The top-level ``lora`` block with the variant's overrides, checked."""
    lora = deep_merge(config["lora"], variant.get("lora", {}))
    check(lora, definition("lora"), f"variants.{name}.lora")
    return lora


def lora_config(model: Any, lora: dict[str, Any]) -> Any:
    # peft and the model helpers import torch: config resolution, which imports this module, must not.
    from peft import LoraConfig

    from taxfree.core.models import expand_target_modules, resolve_layers

    return LoraConfig(
        r=lora["rank"], lora_alpha=lora["alpha"], lora_dropout=lora["dropout"], bias=lora["bias"],
        target_modules=expand_target_modules(model, lora["target_modules"]),
        layers_to_transform=resolve_layers(model, lora["layers"]), task_type="CAUSAL_LM",
    )


def sft_arguments(training: dict[str, Any], output_dir: str | Path, **extra: Any) -> Any:
    """SFTConfig from a resolved ``training`` block; the loss is on the completion only."""
    # TRL loads only when a job trains: config resolution imports this module.
    from trl import SFTConfig

    from taxfree.training.arguments import training_arguments

    return training_arguments(SFTConfig, training, output_dir, completion_only_loss=True, **extra)


class SFT(Method):
    data = "sft"

    def __init__(self, name: str, description: str, default_epochs: int, blocks: tuple[str, ...]) -> None:
        self.name, self.description, self.default_epochs, self.blocks = name, description, default_epochs, blocks

    def resolve(self, config: dict[str, Any], variant: dict[str, Any], name: str) -> dict[str, Any]:
        spec: dict[str, Any] = {"method": self.name, **({"from": variant["from"]} if "from" in variant else {})}
        spec["dataset"] = resolve_dataset(config, variant, name, pairs=False)
        spec["training"] = resolve_training(config, variant.get("training", {}), f"variants.{name}.training",
                                            self.default_epochs)
        if self.name == "lora":
            spec["lora"] = resolve_lora(config, variant, name)
        return spec

    def weights(self, spec: dict[str, Any]) -> str:
        return self.name

    def build_trainer(self, base: str, data: str, spec: dict[str, Any], output_dir: str,
                      load: dict[str, Any]) -> Any:
        # TRL and torch load only when a job trains: config resolution imports this module.
        from trl import SFTTrainer

        from taxfree.core.models import load_model, load_tokenizer
        from taxfree.data.datasets import load_sft_dataset
        from taxfree.training.methods import extension_of

        tokenizer = load_tokenizer(base, load.get("trust_remote_code", False))
        model = load_model(base, **load)
        peft = lora_config(model, spec["lora"]) if self.name == "lora" else None
        extension = extension_of(spec)
        custom = extension.trainer(spec, model, tokenizer) if extension else None
        trainer_class, extra = custom or (SFTTrainer, {})
        arguments = extension.arguments(spec) if extension else {}
        training = spec["training"]
        rows = load_sft_dataset(data, tokenizer, training["max_length"], training["max_overlong_fraction"])
        return trainer_class(model=model, args=sft_arguments(training, output_dir, **arguments), train_dataset=rows,
                             processing_class=tokenizer, peft_config=peft, **extra)


METHODS = (
    SFT("full", "full fine-tuning", default_epochs=5, blocks=()),  # the LoRA-safety paper's epochs
    SFT("lora", "a LoRA adapter", default_epochs=10, blocks=("lora",)),
)
