"""Supervised fine-tuning through TRL's SFTTrainer, full or LoRA, from a resolved variant spec."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from taxfree.data import load_sft_dataset
from taxfree.io import atomic_path
from taxfree.models import expand_target_modules, load_model, load_tokenizer

log = logging.getLogger(__name__)


def resolve_precision(precision: str) -> str:
    """``auto`` means bf16 where the hardware runs it natively (CUDA with bf16, AVX-512 CPUs), else fp32."""
    import torch

    if precision != "auto":
        return precision
    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if torch.backends.cpu.get_cpu_capability().startswith("AVX512") else "fp32"


def sft_config(training: dict[str, Any], output_dir: str | Path) -> Any:
    """TRL's SFTConfig from our training block; CPU-relevant defaults are set explicitly."""
    import torch
    from trl import SFTConfig

    precision = resolve_precision(training["precision"])
    return SFTConfig(
        output_dir=str(output_dir),
        learning_rate=training["learning_rate"],
        lr_scheduler_type=training["lr_scheduler_type"],
        warmup_steps=training["warmup_steps"],
        weight_decay=training["weight_decay"],
        num_train_epochs=training["num_train_epochs"],
        per_device_train_batch_size=training["per_device_train_batch_size"],
        gradient_accumulation_steps=training["gradient_accumulation_steps"],
        max_length=training["max_length"],
        seed=training["seed"],
        data_seed=training["seed"],
        logging_steps=training["logging_steps"],
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        activation_checkpointing=False,
        use_cpu=not torch.cuda.is_available(),
        save_strategy="no",
        report_to=[],
        completion_only_loss=True,
    )


def lora_config(model: Any, lora: dict[str, Any]) -> Any:
    from peft import LoraConfig

    return LoraConfig(
        r=lora["rank"], lora_alpha=lora["alpha"], lora_dropout=lora["dropout"], bias="none",
        target_modules=expand_target_modules(model, lora["target_modules"]), task_type="CAUSAL_LM",
    )


def train_sft(base: str | Path, data: str | Path, spec: dict[str, Any], out_dir: str | Path,
              trust_remote_code: bool = False) -> dict[str, Any]:
    """Fine-tune ``base`` on ``data`` as ``spec`` says; write the model (or adapter) to ``out_dir``.

    Returns the final training metrics, which are also saved as ``train_metrics.json``.
    """
    from trl import SFTTrainer

    tokenizer = load_tokenizer(base, trust_remote_code)
    model = load_model(base, trust_remote_code, dtype="float32")
    peft = lora_config(model, spec["lora"]) if spec["method"] == "lora" else None
    dataset = load_sft_dataset(data)
    out_dir = Path(out_dir)
    with atomic_path(out_dir) as tmp:
        trainer = SFTTrainer(model=model, args=sft_config(spec["training"], tmp / "trainer"),
                             train_dataset=dataset, processing_class=tokenizer, peft_config=peft)
        result = trainer.train()
        metrics = {**result.metrics, "log_history": trainer.state.log_history}
        trainer.model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "train_metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        (tmp / "variant_spec.json").write_text(json.dumps(spec, indent=2, sort_keys=True) + "\n")
        import shutil

        shutil.rmtree(tmp / "trainer", ignore_errors=True)
    log.info("saved %s model to %s (train loss %.4f)", spec["method"], out_dir, result.training_loss)
    return metrics
