"""Supervised fine-tuning through TRL's SFTTrainer, full or LoRA, from a resolved variant spec."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from transformers.trainer_utils import get_last_checkpoint

from taxfree.data import load_sft_dataset
from taxfree.models import expand_target_modules, load_model, load_tokenizer, resolve_layers

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
        save_strategy=training["save_strategy"],
        save_steps=training["save_steps"],
        save_total_limit=training["save_total_limit"],
        report_to=[],
        completion_only_loss=True,
    )


def lora_config(model: Any, lora: dict[str, Any]) -> Any:
    from peft import LoraConfig

    return LoraConfig(
        r=lora["rank"], lora_alpha=lora["alpha"], lora_dropout=lora["dropout"], bias=lora["bias"],
        target_modules=expand_target_modules(model, lora["target_modules"]),
        layers_to_transform=resolve_layers(model, lora["layers"]), task_type="CAUSAL_LM",
    )


def _fingerprint(spec: dict[str, Any], base: str | Path, data: str | Path) -> str:
    """What a checkpoint was trained from: the spec, the data's bytes and the base model's files."""
    import hashlib

    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode())
    digest.update(Path(data).read_bytes())
    for path in sorted(Path(base).glob("*")) if Path(base).is_dir() else []:
        digest.update(f"{path.name}:{path.stat().st_size}".encode())
    return digest.hexdigest()


def discard_stale_checkpoints(checkpoint_dir: Path, fingerprint: str) -> None:
    """Keep only checkpoints that an interrupted run of this same job left.

    Checkpoints of anything else (another spec, other data or base model) are discarded,
    so a changed parameter never resumes from stale weights.
    """
    import shutil

    stamp = checkpoint_dir / "fingerprint"
    if checkpoint_dir.is_dir() and (not stamp.is_file() or stamp.read_text() != fingerprint):
        log.info("discarding checkpoints of a different job in %s", checkpoint_dir)
        shutil.rmtree(checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    stamp.write_text(fingerprint)


def trainer_for(spec: dict[str, Any], model: Any, tokenizer: Any) -> tuple[type, dict[str, Any]]:
    """TRL's SFTTrainer, or the subclass of a variant that keeps safety (`ssah`, `sap`), with its arguments."""
    if "ssah" in spec:
        from taxfree.ssah import FrozenUnitsTrainer, freeze_masks

        masks = freeze_masks(model, tokenizer, spec["ssah"], spec["training"]["max_length"])
        return FrozenUnitsTrainer, {"masks": masks, "freeze_other": spec["ssah"]["freeze_other"]}
    if "sap" in spec:
        from taxfree.sap import SAPTrainer

        return SAPTrainer, {"sap": spec["sap"]}
    from trl import SFTTrainer

    return SFTTrainer, {}


def train_sft(base: str | Path, data: str | Path, spec: dict[str, Any], out_dir: str | Path,
              checkpoint_dir: str | Path, trust_remote_code: bool = False) -> dict[str, Any]:
    """Fine-tune ``base`` on ``data`` as ``spec`` says; write the model (or adapter) to ``out_dir``.

    Checkpoints go to ``checkpoint_dir``; a rerun after a crash or preemption resumes from
    the last one. The same code runs in one process or in every process of an
    ``accelerate launch`` (DDP, DeepSpeed ZeRO-3, FSDP): the main process alone touches
    files, and saving goes through the trainer, which gathers sharded weights first.
    Returns the final training metrics, also saved as ``train_metrics.json``.
    """
    import shutil

    from accelerate import PartialState

    state = PartialState()
    checkpoint_dir, out_dir = Path(checkpoint_dir), Path(out_dir)
    if state.is_main_process:
        discard_stale_checkpoints(checkpoint_dir, _fingerprint(spec, base, data))
    state.wait_for_everyone()
    resume = get_last_checkpoint(str(checkpoint_dir))
    tokenizer = load_tokenizer(base, trust_remote_code)
    # A variant starting from a LoRA variant gets the adapter merged, and PEFT loads that frozen.
    model = load_model(base, trust_remote_code, dtype="float32").requires_grad_(True)
    peft = lora_config(model, spec["lora"]) if spec["method"] == "lora" else None
    trainer_class, extra = trainer_for(spec, model, tokenizer)
    trainer = trainer_class(model=model, args=sft_config(spec["training"], checkpoint_dir),
                            train_dataset=load_sft_dataset(data, tokenizer), processing_class=tokenizer,
                            peft_config=peft, **extra)
    if resume:
        log.info("resumed from %s", resume)
    result = trainer.train(resume_from_checkpoint=resume)
    metrics = {**result.metrics, "log_history": trainer.state.log_history}
    # A fixed staging name, since every process must save into the same directory; what a
    # killed earlier save left there must not mix into this one.
    staging = out_dir.with_name(out_dir.name + ".partial")
    if state.is_main_process:
        shutil.rmtree(staging, ignore_errors=True)
    state.wait_for_everyone()
    trainer.save_model(str(staging))
    if state.is_main_process:
        tokenizer.save_pretrained(staging)
        (staging / "train_metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        (staging / "variant_spec.json").write_text(json.dumps(spec, indent=2, sort_keys=True) + "\n")
        shutil.rmtree(out_dir, ignore_errors=True)
        staging.rename(out_dir)
        if not spec["training"]["keep_checkpoints"]:
            shutil.rmtree(checkpoint_dir)
        log.info("saved %s model to %s (train loss %.4f)", spec["method"], out_dir, result.training_loss)
    state.wait_for_everyone()
    return metrics
