"""Preference pairs from candidate completions by the configured rules (rule build_pairs)."""

from taxfree.core.hub import hub_asset
from taxfree.core.io import redirect_output, write_jsonl
from taxfree.data.preferences import build_pairs

spec = snakemake.params.spec
with redirect_output(snakemake.log[0]), \
        hub_asset(f"datasets.{snakemake.wildcards.dataset}.hub", "dataset", spec.get("hub")):
    write_jsonl(snakemake.output[0], build_pairs(spec))
