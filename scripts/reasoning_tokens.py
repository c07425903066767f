"""Distribution of reasoning tokens per answer for every (model, variant, benchmark) (rule reasoning_tokens)."""

from taxfree.aggregate import token_distribution
from taxfree.io import atomic_path, redirect_output

with redirect_output(snakemake.log[0]):
    with atomic_path(snakemake.output[0]) as tmp:
        token_distribution(snakemake.params.entries).to_csv(tmp, index=False, float_format="%.6g")
