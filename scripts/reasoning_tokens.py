"""Distribution of reasoning tokens per answer for every (model, variant, benchmark) (rule reasoning_tokens)."""

from taxfree.core.io import atomic_path, redirect_output
from taxfree.report.aggregate import token_distribution

with redirect_output(snakemake.log[0]):
    with atomic_path(snakemake.output[0]) as tmp:
        token_distribution(snakemake.params.entries).to_csv(tmp, index=False, float_format="%.6g")
