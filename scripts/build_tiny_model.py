"""Build a tiny random model of a real architecture as a starting model (rule build_tiny_model)."""

from taxfree.core.io import atomic_path, redirect_output
from taxfree.data.toyworld import save_tiny_random_model

with redirect_output(snakemake.log[0]), atomic_path(snakemake.output[0]) as tmp:
    save_tiny_random_model(tmp, snakemake.params.spec, list(snakemake.input))
