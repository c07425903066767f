"""configs/paper.yaml: the LoRA-safety grid plans without network, with the paper's settings."""

import re
import subprocess
import sys

import yaml
from conftest import REPO


def dry_run(configfile=REPO / "configs" / "paper.yaml"):
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-n", "-p", "--configfile", str(configfile)],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_paper_grid_is_planned():
    out = dry_run()
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", out, flags=re.M))
    # 2 models x (13 variants + 10 regularized) trained, + the headline range on the 14B only;
    # 6 merges per model; every trained or merged variant analysed.
    assert counts["align"] == str(2 * 23 + 1) and counts["fetch_model"] == "2"
    assert counts["merge"] == str(2 * 6) and counts["geometry"] == str(2 * 29 + 1)
    assert counts["generate"] == str(2 * 30 + 1) and counts["prepare_benchmark"] == "8"
    assert "output: results/r1_qwen_7b/full/scores/strongreject.jsonl" in out
    assert counts["figure_ablation"] == "3" and counts["prepare_dataset"] == "2"
    assert "--out results/r1_qwen_14b/lora_up_from16_to31_r1/model" in out
    assert "results/r1_qwen_7b/lora_up_from16_to31_r1" not in out
    assert '"layers": {"from": 16, "to": 31}' in out
    # The paper's defaults: lr 5e-5, 10 epochs for LoRA and 5 for full fine-tuning.
    full = re.search(r"--spec '(.*?)' --out results/r1_qwen_7b/full/model", out).group(1)
    assert '"learning_rate": 5e-05' in full and '"num_train_epochs": 5' in full
    lora = re.search(r"--spec '(.*?)' --out results/r1_qwen_7b/lora_all_r1/model", out).group(1)
    assert '"num_train_epochs": 10' in lora and '"target_modules": ["all"]' in lora


def test_paper_benchmarks_are_scored_as_the_paper_does():
    from snakemake.utils import validate

    from taxfree.config.resolve import resolve_config
    from taxfree.config.schema import SCHEMA_PATH

    config = yaml.safe_load((REPO / "configs" / "paper.yaml").read_text())
    validate(config, str(SCHEMA_PATH))
    benchmarks = resolve_config(config)[0]["benchmarks"]
    assert benchmarks["strongreject"]["judge"] == "llama_guard"
    assert benchmarks["strongreject"]["judge_model"]["model"] == "meta-llama/Llama-Guard-3-8B"
    assert benchmarks["humaneval"]["grader"] == "code"


def test_gpus_follow_the_method_and_the_model_size():
    """Full fine-tuning shards over several 80 GB GPUs under ZeRO-3 (7B: 4, 14B: 8); LoRA trains on one without a
    launcher; the Llama Guard judge gets a GPU, graders none; each job asks for estimated memory and time."""
    out = dry_run()
    assert re.search(r"accelerate.commands.launch --config_file configs/accelerate/zero3.yaml --num_processes 4 "
                     r"-m taxfree.training .* --out results/r1_qwen_7b/full/model", out)
    assert re.search(r"accelerate.commands.launch --config_file configs/accelerate/zero3.yaml --num_processes 8 "
                     r"-m taxfree.training .* --out results/r1_qwen_14b/full/model", out)
    lora = re.search(r"Shell command: (\S+) -m taxfree.training .* --out results/r1_qwen_14b/lora_up_r1/model", out)
    assert lora and lora.group(1) == sys.executable
    assert '--load \'{"trust_remote_code": false, "dtype": "auto", "attn_implementation": "sdpa"}\'' in out

    def resources(rule, output):
        block = re.search(rf"rule {rule}:\n(?:    .*\n)*?    output: (?:.*, )?{re.escape(output)}(?:, .*)?\n(?:    .*\n)*?    resources: (.*)", out)
        return dict(re.findall(r"(\w+)=([^,]+)", block.group(1)))

    full = resources("align", "results/r1_qwen_14b/full/model")
    assert full["gpu"] == "8" and int(full["mem_mb"]) > 30000 and int(full["runtime"]) >= 30
    assert resources("align", "results/r1_qwen_14b/lora_all_r64/model")["gpu"] == "1"
    assert resources("score", "results/r1_qwen_7b/base/scores/strongreject.jsonl")["gpu"] == "1"
    assert resources("score", "results/r1_qwen_7b/base/scores/math500.jsonl")["gpu"] == "0"
    generate = resources("generate", "results/r1_qwen_14b/base/generations/math500.jsonl")
    # The job answers all 8 benchmarks, math500's 4,000 samples of up to 32k tokens among them.
    assert generate["gpu"] == "1" and int(generate["runtime"]) > 600
    # A merge holds the tuned 14B and its W0 in bf16 in host memory: 2 x 29.5 GB.
    assert int(resources("merge", "results/r1_qwen_14b/full_alpha0.5/model")["mem_mb"]) > 2 * 29500
