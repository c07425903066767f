def regularizer_sources(variant):
    """Regularized variants also depend on the regularizer's modules; the others do not rerun on their edits."""
    return ("regularizers", "geometry") if "regularizer" in SPECS[variant] else ()


rule align:
    input:
        base=starting_model,
        data=prepared_dataset,
    output:
        directory(f"{RESULTS}/{{model}}/{{variant}}/model"),
    log:
        "logs/align/{model}/{variant}.log",
    params:
        spec=lambda wildcards: json.dumps(SPECS[wildcards.variant], sort_keys=True),
        launcher=lambda wildcards: train_launcher(SPECS[wildcards.variant]["method"]),
        remote_code=lambda wildcards: remote_code_flag(wildcards.model),
        checkpoint_dir=lambda wildcards: f"{RESULTS}/{wildcards.model}/{wildcards.variant}/checkpoints",
        code=lambda wildcards: source_hash(
            "train", "data", "models", "io", *regularizer_sources(wildcards.variant)
        ),
    wildcard_constraints:
        variant=alternation(TRAINED),
    threads: config["resources"]["train_threads"]
    resources:
        gpu=config["resources"]["train_gpus"],
    shell:
        TRAIN_CMD
