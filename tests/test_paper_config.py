"""configs/paper.yaml: the LoRA-safety grid plans without network, with the paper's settings."""

import re
import subprocess
import sys
from pathlib import Path

import yaml
from conftest import REPO
from snakemake.utils import validate

from taxfree.config.resolve import resolve_config
from taxfree.config.schema import SCHEMA_PATH


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
    # full, lora_up_r1 and the headline range also export every epoch (align_epochs).
    assert int(counts["align"]) + int(counts["align_epochs"]) == 2 * 23 + 1 and counts["fetch_model"] == "2"
    assert counts["align_epochs"] == str(2 + 2 + 1)
    assert counts["merge"] == str(2 * 6) and counts["geometry"] == str(2 * 29 + 1)
    # One generate job per (model, variant): 2 models x 30 variants, + the headline on the 14B.
    assert counts["generate"] == str(2 * 30 + 1) and counts["prepare_benchmark"] == "9"
    # Every epoch on strongreject, aime24 and gpqa_diamond: full 5 epochs, LoRA 10, on 2 models (headline: 1);
    # one generate job per epoch answers the three, but for the last epoch: the final model's own answers.
    assert counts["generate_epoch"] == str(2 * 4 + 2 * 9 + 9)
    assert counts["score_epoch"] == str(3 * (2 * 4 + 2 * 9 + 9))
    assert counts["figure_epochs"] == "1"
    assert "--epochs-dir results/seed0/r1_qwen_14b/lora_up_from16_to31_r1/epochs" in out
    assert "output: results/seed0/r1_qwen_7b/full/by_epoch/4/scores/aime24.jsonl" in out
    assert "results/seed0/r1_qwen_7b/full/by_epoch/5/" not in out
    assert "output: results/seed0/r1_qwen_7b/full/scores/strongreject.jsonl" in out
    assert counts["figure_ablation"] == "3" and counts["prepare_dataset"] == "2"
    assert "--out results/seed0/r1_qwen_14b/lora_up_from16_to31_r1/model" in out
    assert "results/seed0/r1_qwen_7b/lora_up_from16_to31_r1" not in out
    assert '"layers": {"from": 16, "to": 31}' in out
    # The paper's defaults: lr 5e-5, 10 epochs for LoRA and 5 for full fine-tuning.
    full = re.search(r"--spec '(.*?)' --out results/seed0/r1_qwen_7b/full/model", out).group(1)
    assert '"learning_rate": 5e-05' in full and '"num_train_epochs": 5' in full
    lora = re.search(r"--spec '(.*?)' --out results/seed0/r1_qwen_7b/lora_all_r1/model", out).group(1)
    assert '"num_train_epochs": 10' in lora and '"target_modules": ["all"]' in lora


def test_paper_benchmarks_are_scored_as_the_paper_does():
    from taxfree.config.resolve import resolve_config
    from taxfree.config.schema import validate_config

    config = yaml.safe_load((REPO / "configs" / "paper.yaml").read_text())
    validate_config(config)
    benchmarks = resolve_config(config)[0]["benchmarks"]
    assert benchmarks["strongreject"]["judge"] == "llama_guard"
    assert benchmarks["strongreject"]["judge_model"]["model"] == "meta-llama/Llama-Guard-3-8B"
    # The paper's code benchmarks are EvalPlus' (base and plus tests) in their two test forms.
    assert (benchmarks["humaneval_plus"]["hub"], benchmarks["humaneval_plus"]["code_test"]) == \
        ("evalplus/humanevalplus", "check")
    assert (benchmarks["mbpp_plus"]["hub"], benchmarks["mbpp_plus"]["code_test"]) == ("evalplus/mbppplus", "script")
    assert benchmarks["mbpp_plus"]["columns"]["example"] == "test_list"
    # AIME24 and GPQA-Diamond with the authors' prompts; benchmarks the paper does not report are named extras.
    assert benchmarks["aime24"]["prompt_template"].startswith("Solve the following math problem. Present the final "
                                                              "answer in the format: Final Answer: \\boxed{")
    assert "Question: {prompt}\nChoices:\n{choices}" in benchmarks["gpqa_diamond"]["prompt_template"]
    assert benchmarks["gpqa_diamond"]["choice_label"] == "({letter}) "
    assert {"math500_extra", "gsm8k_extra"} <= set(benchmarks) and "math500" not in benchmarks


def test_down_regularizer_is_the_authors():
    """lora_mlp_orthogonal_down_*: LoRA on gate, up and down; the penalty on down_proj alone."""
    config = yaml.safe_load((REPO / "configs" / "paper.yaml").read_text())
    validate(config, str(SCHEMA_PATH))
    downs = {name: v.spec for name, v in resolve_config(config)[1].items()
             if v.spec.get("regularizer", {}).get("target_modules") == ["down_proj"]}
    assert downs and all(spec["lora"]["target_modules"] == ["mlp"] for spec in downs.values())


def test_gpus_follow_the_method_and_the_model_size():
    """Full fine-tuning shards over several 80 GB GPUs under ZeRO-3 (7B: 4, 14B: 8); LoRA trains on one without a
    launcher; the Llama Guard judge gets a GPU, graders none; each job asks for estimated memory and time."""
    out = dry_run()
    assert re.search(r"accelerate.commands.launch --config_file configs/accelerate/zero3.yaml --num_processes 4 "
                     r"-m taxfree.training .* --out results/seed0/r1_qwen_7b/full/model", out)
    assert re.search(r"accelerate.commands.launch --config_file configs/accelerate/zero3.yaml --num_processes 8 "
                     r"-m taxfree.training .* --out results/seed0/r1_qwen_14b/full/model", out)
    lora = re.search(r"Shell command: exec \S+ -m taxfree.core.lifetime (\S+) -m taxfree.training .* "
                     r"--out results/seed0/r1_qwen_14b/lora_up_r1/model", out)
    assert lora and Path(lora.group(1)).parent == Path(sys.executable).parent
    assert '--load \'{"trust_remote_code": false, "dtype": "auto", "attn_implementation": "sdpa"}\'' in out

    def resources(rule, output):
        block = re.search(rf"rule {rule}:\n(?:    .*\n)*?    output: (?:.*, )?{re.escape(output)}(?:, .*)?\n(?:    .*\n)*?    resources: (.*)", out)
        return dict(re.findall(r"(\w+)=([^,]+)", block.group(1)))

    full = resources("align_epochs", "results/seed0/r1_qwen_14b/full/model/COMPLETE, results/seed0/r1_qwen_14b/full/epochs")
    assert full["gpu"] == "8" and int(full["mem_mb"]) > 30000 and int(full["runtime"]) >= 30
    assert resources("align", "results/seed0/r1_qwen_14b/lora_all_r64/model/COMPLETE")["gpu"] == "1"
    assert resources("score", "results/seed0/r1_qwen_7b/base/scores/strongreject.jsonl")["gpu"] == "1"
    assert resources("score", "results/seed0/r1_qwen_7b/base/scores/aime24.jsonl")["gpu"] == "0"
    generate = resources("generate", "results/seed0/r1_qwen_14b/base/generations/math500_extra.jsonl")
    # The job answers every benchmark, math500_extra's 4,000 samples of up to 32k tokens among them.
    assert generate["gpu"] == "1" and int(generate["runtime"]) > 600
    # A merge holds the tuned 14B and its W0 in bf16 in host memory: 2 x 29.5 GB.
    assert int(resources("merge", "results/seed0/r1_qwen_14b/full_alpha0.5/model/COMPLETE")["mem_mb"]) > 2 * 29500
