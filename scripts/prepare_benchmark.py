"""Load an evaluation set (local file or hub) as prompt rows (rule prepare_benchmark)."""

from taxfree.core.hub import hub_asset
from taxfree.core.io import redirect_output, write_jsonl
from taxfree.data.benchmarks import prepare_evalset

spec = snakemake.params.spec
with redirect_output(snakemake.log[0]), \
        hub_asset(f"benchmarks.{snakemake.wildcards.benchmark}.hub", "dataset", spec.get("hub")):
    write_jsonl(snakemake.output[0], prepare_evalset(spec))
