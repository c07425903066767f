"""Load an evaluation set (local file or hub) as prompt rows (rule prepare_benchmark)."""

from taxfree.core.io import redirect_output, write_jsonl
from taxfree.data.benchmarks import prepare_evalset

with redirect_output(snakemake.log[0]):
    write_jsonl(snakemake.output[0], prepare_evalset(snakemake.params.spec))
