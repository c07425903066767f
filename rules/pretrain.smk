rule pretrain_toy:
    input:
        base=rules.toyworld.output.init_model,
        data=f"{RESULTS}/toyworld/data/pretrain.jsonl",
    output:
        directory(f"{RESULTS}/{{model}}/base_model"),
    log:
        "logs/pretrain_toy/{model}.log",
    wildcard_constraints:
        model=models_from("toyworld"),
    conda:
        "../envs/training.yaml"
    threads: config["resources"]["pretrain_threads"]
    params:
        spec=json.dumps(
            {
                "method": "full",
                "training": resolve_training(
                    config, config["toyworld"]["pretrain"], "toyworld.pretrain", "full"
                ),
            },
            sort_keys=True,
        ),
        launcher=sys.executable,
        remote_code="",
        checkpoint_dir=lambda wildcards: f"{RESULTS}/{wildcards.model}/base_model.checkpoints",
        code=source_hash("train", "data", "models", "io", "provenance", "cli"),
    shell:
        TRAIN_CMD
