"""Load an evaluation set (local file or hub) as prompt rows (rule prepare_benchmark)."""

from taxfree.evalsets import prepare_evalset
from taxfree.io import redirect_output, write_jsonl

with redirect_output(snakemake.log[0]):
    write_jsonl(snakemake.output[0], prepare_evalset(snakemake.params.spec))
