rule align:
    input:
        base=starting_model,
        data=prepared_dataset,
        keeper=keeper_inputs,
    output:
        directory(f"{RESULTS}/{{model}}/{{variant}}/model"),
    log:
        "logs/align/{model}/{variant}.log",
    wildcard_constraints:
        variant=alternation(TRAINED),
    conda:
        "../envs/training.yaml"
    threads: config["resources"]["train_threads"]
    resources:
        gpu=config["resources"]["train_gpus"],
    params:
        spec=lambda wildcards: json.dumps(SPECS[wildcards.variant], sort_keys=True),
        launcher=lambda wildcards: train_launcher(
            trained_weights(SPECS[wildcards.variant])
        ),
        remote_code=lambda wildcards: remote_code_flag(wildcards.model),
        checkpoint_dir=lambda wildcards: f"{RESULTS}/{wildcards.model}/{wildcards.variant}/checkpoints",
        code=lambda wildcards: source_hash(
            "train",
            "data",
            "models",
            "io",
            "provenance",
            "cli",
            *extension_sources(wildcards.variant),
        ),
    shell:
        TRAIN_CMD
