"""Preference pairs from candidate completions by the configured rules (rule build_pairs)."""

from taxfree.core.io import redirect_output, write_jsonl
from taxfree.data.preferences import build_pairs

with redirect_output(snakemake.log[0]):
    write_jsonl(snakemake.output[0], build_pairs(snakemake.params.spec))
