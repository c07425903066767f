"""Preference pairs from candidate completions by the configured rules (rule build_pairs)."""

from taxfree.io import redirect_output, write_jsonl
from taxfree.preferences import build_pairs

with redirect_output(snakemake.log[0]):
    write_jsonl(snakemake.output[0], build_pairs(snakemake.params.spec))
