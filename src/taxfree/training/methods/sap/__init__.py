"""Extension `sap`: SAP's safety-aware probing during LoRA fine-tuning (Wu et al.). The trainer is in
``trainer``."""

from __future__ import annotations

from typing import Any

from taxfree.config.paths import local_source
from taxfree.core.errors import ConfigError
from taxfree.training.methods.base import Extension


class SafetyAwareProbing(Extension):
    name = "sap"
    description = "SAP (it trains LoRA weights)"
    combines_with = ("lora",)

    def resolve(self, config: dict[str, Any], block: dict[str, Any], spec: dict[str, Any],
                name: str) -> dict[str, Any]:
        sap = super().resolve(config, block, spec, name)
        training = spec["training"]
        # The probe steps once per batch, as the authors' does; with accumulation it would step per micro-batch.
        if training["gradient_accumulation_steps"] != 1:
            raise ConfigError(f"config key 'variants.{name}.training.gradient_accumulation_steps': `sap` steps its "
                              f"probe once per batch and needs 1, not {training['gradient_accumulation_steps']}")
        # fp16's loss scaling would scale the probe's descent term (TRL's backward) but not its ascent term.
        if training["precision"] == "fp16":
            raise ConfigError(f"config key 'variants.{name}.training.precision': `sap` does not support fp16 "
                              "(use bf16 or fp32)")
        pairs = local_source(config, sap["pairs"]) if isinstance(sap["pairs"], dict) else sap["pairs"]
        return {**sap, "pairs": pairs, "pairs_path": pairs}

    def inputs(self, spec: dict[str, Any]) -> list[str]:
        return [spec["sap"]["pairs_path"]]

    def trainer(self, spec: dict[str, Any], model: Any, tokenizer: Any) -> tuple[type, dict[str, Any]]:
        # TRL and torch load only when a job trains: config resolution imports this module.
        from taxfree.training.methods.sap.trainer import SAPTrainer

        return SAPTrainer, {"sap": spec["sap"]}


METHODS = (SafetyAwareProbing(),)
