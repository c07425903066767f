# SaRO (DESIGN.md section 4.3): preference pairs over reasoning processes for method dpo.


rule build_pairs:
    input:
        lambda wildcards: local_source(config["datasets"][wildcards.dataset]),
    output:
        f"{RESULTS}/pairs/{{dataset}}.jsonl",
    log:
        "logs/build_pairs/{dataset}.log",
    conda:
        "../envs/training.yaml"
    params:
        spec=lambda wildcards: config["datasets"][wildcards.dataset],
        code=source_hash("preferences", "data", "judges", "io"),
    script:
        "../scripts/build_pairs.py"
