"""Build a tiny random model of a real architecture as a starting model (rule build_tiny_model)."""

from taxfree.config.paths import marked_model
from taxfree.core.io import atomic_path, mark_complete, redirect_output
from taxfree.core.provenance import spec_hash
from taxfree.data.toyworld import save_tiny_random_model

with redirect_output(snakemake.log[0]):
    out = marked_model(snakemake.output[0])
    with atomic_path(out) as tmp:
        save_tiny_random_model(tmp, snakemake.params.spec, list(snakemake.input))
    mark_complete(out, spec_hash(snakemake.params.spec))
