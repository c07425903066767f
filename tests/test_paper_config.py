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
    assert counts["generate"] == str(2 * 30 * 8 + 8) and counts["prepare_benchmark"] == "8"
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


def test_multi_gpu_jobs_launch_through_accelerate(tmp_path):
    config = yaml.safe_load((REPO / "configs" / "paper.yaml").read_text())
    config["resources"]["train_gpus"] = 4
    (tmp_path / "paper4.yaml").write_text(yaml.safe_dump(config))
    out = dry_run(tmp_path / "paper4.yaml")
    assert re.search(r"accelerate.commands.launch --config_file configs/accelerate/zero3.yaml --num_processes 4 "
                     r"-m taxfree.training .* --out results/r1_qwen_14b/full/model", out)
    assert re.search(r"accelerate.commands.launch --config_file configs/accelerate/ddp.yaml --num_processes 4 "
                     r"-m taxfree.training .* --out results/r1_qwen_14b/lora_up_r1/model", out)
    assert re.search(r"rule align:(?:\n    .*)*?\n    resources: .*gpu=4", out)
