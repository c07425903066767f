rule align:
    input:
        base=f"{RESULTS}/{{model}}/base_model",
        data=prepared_dataset,
    output:
        directory(f"{RESULTS}/{{model}}/{{variant}}/model"),
    log:
        "logs/align/{model}/{variant}.log",
    params:
        spec=lambda wildcards: SPECS[wildcards.variant],
        trust_remote_code=lambda wildcards: MODELS[wildcards.model].get("trust_remote_code", False),
        checkpoint_dir=lambda wildcards: f"{RESULTS}/{wildcards.model}/{wildcards.variant}/checkpoints",
        code=source_hash("train", "data", "models", "io"),
    wildcard_constraints:
        variant=alternation(TRAINED),
    threads: config["resources"]["train_threads"]
    script:
        "../scripts/train.py"
