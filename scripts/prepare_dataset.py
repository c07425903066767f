"""Load a training set (local file or hub) as prompt/completion rows (rule prepare_dataset)."""

from taxfree.core.hub import hub_asset
from taxfree.core.io import redirect_output, write_jsonl
from taxfree.data.datasets import load_sft_rows, mix_rows, prepare

spec = snakemake.params.spec
with redirect_output(snakemake.log[0]):
    with hub_asset(f"datasets.{snakemake.wildcards.dataset}.hub", "dataset", spec.get("hub")):
        rows = prepare(spec)
    if snakemake.input.mix:
        rows = mix_rows(rows, load_sft_rows(snakemake.input.mix[0]), spec["mix"]["fraction"], spec["mix"]["seed"])
    write_jsonl(snakemake.output[0], rows)
