"""Unit types of a model and what pruning its safety-critical units does to refusal (rule ssah_analysis)."""

import pandas as pd
import torch

from taxfree.config.paths import marked_model
from taxfree.core.io import atomic_path, read_jsonl, redirect_output
from taxfree.core.lifetime import die_with_parent
from taxfree.core.models import load_model, load_tokenizer
from taxfree.training.methods.ssah.units import pruning_validation, type_table, unit_types

params = snakemake.params
die_with_parent()
with redirect_output(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    model_dir = marked_model(snakemake.input.model)
    model = load_model(model_dir, **params.load).eval()
    tokenizer = load_tokenizer(model_dir, params.load["trust_remote_code"], padding_side="left")
    types, _, _ = unit_types(model, tokenizer, params.ssah, params.max_length)
    table = pd.DataFrame(type_table(types)).assign(model=snakemake.wildcards.model, variant=snakemake.wildcards.variant)
    with atomic_path(snakemake.output.types) as tmp:
        table.to_csv(tmp, index=False)
    rows = read_jsonl(snakemake.input.safety, required=("prompt", "sample"), text=("prompt",))
    prompts = [row["prompt"] for row in rows if row["sample"] == 0]
    pruning = pd.DataFrame(pruning_validation(model, tokenizer, types, prompts, params.generation, params.judge,
                                              params.seed))
    with atomic_path(snakemake.output.pruning) as tmp:
        pruning.assign(model=snakemake.wildcards.model, variant=snakemake.wildcards.variant,
                       benchmark=params.benchmark).to_csv(tmp, index=False)
