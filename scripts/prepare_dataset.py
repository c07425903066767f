"""Load a training set (local file or hub) as prompt/completion rows (rule prepare_dataset)."""

from taxfree.data import prepare
from taxfree.io import redirect_output, write_jsonl

with redirect_output(snakemake.log[0]):
    write_jsonl(snakemake.output[0], prepare(snakemake.params.spec))
