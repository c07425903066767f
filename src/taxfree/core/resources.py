"""What one job needs, from its model's size: GPUs, peak memory per GPU, host memory, run time, GPU-hours
and the disk its outputs take. Arithmetic only (no torch): the rules ask it at parse time through thin
helpers in rules/common.smk, and ``taxfree plan`` (taxfree.core.plan) lists the same numbers for the grid.

Assumptions (N parameters; GB = 1e9 bytes; h, L the model's width and depth):

- Weights: 2 bytes per parameter (bf16, the paper models' dtype, which dtype ``auto`` is counted as),
  4 when the model block's dtype is float32.
- Full fine-tuning (also DPO with ``parameters: full``): 16 bytes per parameter, sharded over the job's GPUs
  by ZeRO-3: 16-bit weights 2 + 16-bit gradients 2 + fp32 master weights 4 + fp32 Adam moments 8 (the ZeRO
  paper's accounting; conservative for one GPU, which runs without ZeRO). DPO's reference copy adds 2.
- LoRA: the frozen weights on every GPU (data parallel replicates them, so LoRA runs on one GPU) plus 16
  bytes per trainable parameter, taken as 3.5e-4 * rank * N: rank-r adapters on all seven linear modules
  of Qwen2-7B and -14B hold 3.3e-4 and 2.9e-4 * r * N (an upper bound for fewer modules).
- Activations: 34 bytes per token, layer and unit of width (Korthikanti et al. 2022, with fused attention),
  2 with activation checkpointing, for per_device_train_batch_size * max_length tokens per GPU (twice
  that for DPO's chosen and rejected completions).
- Shape: h and L come from N = 12 L h^2 with h = 128 L (Qwen2-7B: 3584 x 28; 14B: 5120 x 48), so
  estimates need only N, known before the model is fetched.
- KV cache: h * L bytes per token: K and V in 16 bits with grouped-query attention sharing each KV head
  among 4 query heads (Qwen2-7B shares among 7, 14B among 5: conservative).
- Every GPU also holds OVERHEAD_GB (CUDA context, logits, allocator fragmentation). A job fits when its
  peak is at most the GPU's memory; GPU counts are 1, 2, 4 or 8 (one node), the fewest that fit.
- vLLM takes gpu_memory_utilization of each GPU, which is its peak; it fits when the weights' share per GPU
  (N * bytes / tensor_parallel_size) and the KV cache of one max_model_len sequence fit in that share.
  HF generate holds the KV cache of batch_size sequences of PROMPT_TOKENS + max_new_tokens on one GPU.
- Compute: 6 N FLOPs per trained token (8 N with activation checkpointing; DPO's reference forward adds
  2 N), 2 N per generated or judged token, at resources.train_mfu / generate_mfu of resources.peak_tflops
  per GPU. Trained tokens: rows * epochs * max_length; generated: rows * num_samples * max_new_tokens;
  judged: rows * num_samples * (PROMPT_TOKENS + max_new_tokens). All are upper bounds: every row padded to
  the limit, every sample running to it. Loading and saving move the weights at LOAD_GB_PER_S (0.5 GB/s);
  fetching a hub model downloads them at DOWNLOAD_GB_PER_S (50 MB/s).
- Run time asked for: 1.5 x the estimate + 15 minutes, at least 30; GPU-hours: GPUs x the estimate.
- Scoring without a judge model (graders, regex judges): no GPU, 8 GB, 60 minutes.
- Host memory: 1.2 x the weights (two models for merges, geometry and full DPO) + 8 GB; ZeRO-3 ranks load the
  checkpoint shard by shard, so a multi-GPU job holds about one copy in all.
- Disk: base, full and merged models N * bytes; adapters 4 bytes per trainable parameter; generations and
  scores 4 bytes per token plus 2 KB per row. Checkpoints (deleted after training by default) are not counted.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taxfree.core.errors import ConfigError

GB = 1e9
GPU_COUNTS = (1, 2, 4, 8)
OVERHEAD_GB = 4.0
FULL_STATE_BYTES = 16
REFERENCE_BYTES = 2
OPTIMIZER_BYTES = 16  # per trainable parameter: 16-bit weight and gradient, fp32 master and Adam moments
LORA_FRACTION_PER_RANK = 3.5e-4
ACTIVATION_BYTES = 34
CHECKPOINTED_ACTIVATION_BYTES = 2
WIDTH_PER_LAYER = 128
PROMPT_TOKENS = 4096
LOAD_GB_PER_S = 0.5
DOWNLOAD_GB_PER_S = 0.05
HOST_BASE_GB = 8.0
HOST_COPY_FACTOR = 1.2
MIN_MEM_MB = 4000
MIN_RUNTIME = 30
BYTES_PER_TOKEN_ON_DISK = 4
BYTES_PER_ROW_ON_DISK = 2000
CPU_SCORE_MEM_MB, CPU_SCORE_RUNTIME = 8000, 60  # graders and regex judges


@dataclass(frozen=True)
class Hardware:
    """The resources block's GPU and throughput settings."""

    gpu_memory_gb: float | None  # None: CPUs only
    peak_tflops: float
    train_mfu: float
    generate_mfu: float

    @classmethod
    def of(cls, resources: dict[str, Any]) -> Hardware:
        return cls(resources["gpu_memory_gb"], resources["peak_tflops"], resources["train_mfu"],
                   resources["generate_mfu"])


@dataclass(frozen=True)
class Estimate:
    """One job's needs. ``gpu_memory_gb`` is the estimated peak per GPU (0 on CPUs); ``runtime`` is in minutes;
    ``fits`` says whether that peak fits the GPU."""

    gpus: int
    gpu_memory_gb: float
    mem_mb: int
    runtime: int
    gpu_hours: float
    disk_gb: float
    fits: bool = True


def weight_bytes(dtype: str) -> int:
    return 4 if dtype == "float32" else 2


def shape(n: float) -> tuple[float, float]:
    """(width h, depth L) of an N-parameter decoder, from N = 12 L h^2 and h = WIDTH_PER_LAYER * L."""
    width = (n * WIDTH_PER_LAYER / 12) ** (1 / 3)
    return width, width / WIDTH_PER_LAYER


def kv_bytes_per_token(n: float) -> float:
    width, depth = shape(n)
    return width * depth


def params_from_config(config: dict[str, Any]) -> float:
    """Parameters of a decoder-only transformer from its Hugging Face config.json (Llama/Qwen2 layout: attention
    with grouped KV heads, a gated MLP, two norms per layer, untied or tied embeddings; biases left out)."""
    try:
        hidden, layers, vocab = config["hidden_size"], config["num_hidden_layers"], config["vocab_size"]
        heads = config["num_attention_heads"]
    except KeyError as err:
        raise ConfigError(f"config.json has no {err}: cannot count the model's parameters (set params_b)") from None
    head_dim = config.get("head_dim") or hidden // heads
    kv_heads = config.get("num_key_value_heads") or heads
    attention = 2 * hidden * heads * head_dim + 2 * hidden * kv_heads * head_dim
    mlp = 3 * hidden * config.get("intermediate_size", 4 * hidden)
    embeddings = vocab * hidden * (1 if config.get("tie_word_embeddings") else 2)
    return layers * (attention + mlp + 2 * hidden) + embeddings + hidden


def params_of_directory(path: str | Path) -> float | None:
    """Parameters of the model in a directory, from its config.json; None while it does not exist."""
    config = Path(path) / "config.json"
    return params_from_config(json.loads(config.read_text())) if config.is_file() else None


def _host_mb(weights_gb: float) -> int:
    return max(MIN_MEM_MB, math.ceil((HOST_COPY_FACTOR * weights_gb + HOST_BASE_GB) * 1000))


def _finish(gpus: int, peak_gb: float, fits: bool, host_gb: float, flops: float, throughput: float,
            io_gb: float, disk_gb: float) -> Estimate:
    """The estimate of a job that computes ``flops`` at ``throughput`` FLOP/s per GPU and moves ``io_gb``."""
    hours = (flops / (max(gpus, 1) * throughput) + io_gb / LOAD_GB_PER_S) / 3600
    runtime = max(MIN_RUNTIME, math.ceil(1.5 * hours * 60 + 15))
    return Estimate(gpus, round(peak_gb, 1) if gpus else 0.0, _host_mb(host_gb), runtime, round(gpus * hours, 2),
                    round(disk_gb, 3), fits)


def _fewest(peak_of: Callable[[int], float], hardware: Hardware, counts: tuple[int, ...],
            limit: float | None = None) -> tuple[int, float, bool]:
    """(GPUs, peak per GPU, fits): the fewest of ``counts`` whose peak is at most ``limit`` (default: the GPU's
    memory), else the most and False; no GPUs when the hardware has none."""
    if hardware.gpu_memory_gb is None:
        return 0, 0.0, True
    limit = hardware.gpu_memory_gb if limit is None else limit
    for count in counts:
        if peak_of(count) <= limit:
            return count, peak_of(count), True
    return counts[-1], peak_of(counts[-1]), False


def training(n: float, weights: str, training: dict[str, Any], rows: int, hardware: Hardware, *,
             dtype: str = "auto", rank: int = 0, pairs: bool = False, reference_copy: bool = False) -> Estimate:
    """A training job: ``weights`` full (ZeRO-3 over the fewest GPUs that fit) or lora (one GPU) with adapters
    of ``rank``; ``pairs`` for DPO (chosen and rejected, a reference forward), ``reference_copy`` when DPO
    keeps the reference's weights."""
    width, depth = shape(n)
    checkpointing = training.get("activation_checkpointing", False)
    per_token = CHECKPOINTED_ACTIVATION_BYTES if checkpointing else ACTIVATION_BYTES
    device_tokens = training["per_device_train_batch_size"] * training["max_length"] * (2 if pairs else 1)
    activations = per_token * device_tokens * width * depth / GB
    weights_gb = n * weight_bytes(dtype) / GB
    if weights == "full":
        trainable = n
        states = n * (FULL_STATE_BYTES + (REFERENCE_BYTES if reference_copy else 0)) / GB
        gpus, peak, fits = _fewest(lambda g: states / g + activations + OVERHEAD_GB, hardware, GPU_COUNTS)
        disk = weights_gb
    else:
        trainable = LORA_FRACTION_PER_RANK * rank * n
        gpus, peak, fits = _fewest(lambda g: weights_gb + trainable * OPTIMIZER_BYTES / GB + activations + OVERHEAD_GB,
                                   hardware, (1,))
        disk = trainable * 4 / GB
    # training.evaluate_checkpoints keeps one more model (adapter) per epoch.
    disk *= 1 + (int(training["num_train_epochs"]) if training.get("evaluate_checkpoints") else 0)
    tokens = rows * training["num_train_epochs"] * training["max_length"] * (2 if pairs else 1)
    flops = (8 if checkpointing else 6) * n * tokens + (2 * n * tokens if pairs else 0)
    return _finish(gpus, peak, fits, (2 if reference_copy else 1) * weights_gb, flops, hardware.peak_tflops * 1e12 * hardware.train_mfu,
                   2 * weights_gb, disk)


def vllm_engine(benchmark: dict[str, Any], model_dtype: str, tensor_parallel_size: int) -> dict[str, Any]:
    """vllm.LLM's engine arguments for a benchmark: its ``vllm`` block with nulls resolved."""
    settings = benchmark["vllm"]
    return {"tensor_parallel_size": settings["tensor_parallel_size"] or tensor_parallel_size,
            "max_model_len": settings["max_model_len"] or benchmark["max_new_tokens"] + PROMPT_TOKENS,
            "gpu_memory_utilization": settings["gpu_memory_utilization"],
            "dtype": settings["dtype"] or model_dtype}


def in_sequence(estimates: list[Estimate]) -> Estimate:
    """One job that runs these one after another (e.g. every benchmark's generation with one loaded model): the
    largest GPU and memory request, the runtimes added up, and GPU hours at the job's GPU count throughout."""
    gpus = max(e.gpus for e in estimates)
    hours = sum(e.gpu_hours / e.gpus if e.gpus else 0.0 for e in estimates)
    return Estimate(gpus, max(e.gpu_memory_gb for e in estimates), max(e.mem_mb for e in estimates),
                    sum(e.runtime for e in estimates), round(gpus * hours, 2), round(sum(e.disk_gb for e in estimates), 3),
                    all(e.fits for e in estimates))


def generation(n: float, benchmark: dict[str, Any], samples: int, hardware: Hardware, dtype: str = "auto") -> Estimate:
    """A generation job of ``samples`` rows (prompts x samples): vLLM over the fewest GPUs that fit (or the
    benchmark's tensor_parallel_size), HF on one."""
    weights_gb = n * weight_bytes(dtype) / GB
    if benchmark["backend"] == "vllm":
        engine = vllm_engine(benchmark, dtype, 1)
        share = engine["gpu_memory_utilization"] * (hardware.gpu_memory_gb or 0)
        kv = engine["max_model_len"] * kv_bytes_per_token(n) / GB
        counts = (benchmark["vllm"]["tensor_parallel_size"],) if benchmark["vllm"]["tensor_parallel_size"] else GPU_COUNTS
        gpus, _, fits = _fewest(lambda g: weights_gb / g + kv + OVERHEAD_GB, hardware, counts, limit=share)
        peak = share
    else:
        kv = benchmark["batch_size"] * (PROMPT_TOKENS + benchmark["max_new_tokens"]) * kv_bytes_per_token(n) / GB
        gpus, peak, fits = _fewest(lambda g: weights_gb + kv + OVERHEAD_GB, hardware, (1,))
    tokens = samples * benchmark["max_new_tokens"]
    disk = (tokens * BYTES_PER_TOKEN_ON_DISK + samples * BYTES_PER_ROW_ON_DISK) / GB
    return _finish(gpus, peak, fits, weights_gb, 2 * n * tokens, hardware.peak_tflops * 1e12 * hardware.generate_mfu,
                   weights_gb, disk)


def judging(n: float | None, benchmark: dict[str, Any], samples: int, hardware: Hardware) -> Estimate:
    """A score job of ``samples`` rows. ``n`` is the judge model's size, None for judges and graders that run no
    local model (CPU jobs; code grading runs each sample in a sandboxed process); a judge model reads each
    response whole and answers in a few tokens."""
    disk = (samples * benchmark["max_new_tokens"] * BYTES_PER_TOKEN_ON_DISK + samples * BYTES_PER_ROW_ON_DISK) / GB
    if n is None:
        return Estimate(0, 0.0, CPU_SCORE_MEM_MB, CPU_SCORE_RUNTIME, 0.0, round(disk, 3))
    judge = benchmark["judge_model"]
    length = PROMPT_TOKENS + benchmark["max_new_tokens"]
    weights_gb = n * 2 / GB
    kv = judge["batch_size"] * length * kv_bytes_per_token(n) / GB
    gpus, peak, fits = _fewest(lambda g: weights_gb + kv + OVERHEAD_GB, hardware, (1,))
    return _finish(gpus, peak, fits, weights_gb, 2 * n * samples * length,
                   hardware.peak_tflops * 1e12 * hardware.generate_mfu, weights_gb, disk)


def weight_analysis(n: float, hardware: Hardware, *, on_gpu: bool, dtype: str = "auto", writes_model: bool) -> Estimate:
    """A merge (CPU, writes a model) or geometry job (one GPU for the SVDs): both hold the tuned model and its
    W0; the GPU holds one module's fp32 update, its factors and W0 (about 24 bytes x 5.3 h^2, the MLP)."""
    width, _ = shape(n)
    weights_gb = n * weight_bytes(dtype) / GB
    gpus, peak, fits = _fewest(lambda g: 24 * 5.3 * width * width / GB + OVERHEAD_GB, hardware, (1,)) if on_gpu \
        else (0, 0.0, True)
    return _finish(gpus, peak, fits, 2 * weights_gb, 0.0, 1.0, 3 * weights_gb if writes_model else 2 * weights_gb,
                   weights_gb if writes_model else 0.001)


def fetch(n: float, hardware: Hardware, dtype: str = "auto") -> Estimate:
    """A fetch_model job (CPU): download the hub model and save it as the base model."""
    weights_gb = n * weight_bytes(dtype) / GB
    return _finish(0, 0.0, True, weights_gb, 0.0, 1.0, weights_gb * LOAD_GB_PER_S / DOWNLOAD_GB_PER_S + weights_gb,
                   weights_gb)
