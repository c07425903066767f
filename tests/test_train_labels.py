"""Loss is on the completion only: labels are non-empty and every prompt token is masked."""

from taxfree.config import load_schema
from taxfree.data import load_sft_dataset
from taxfree.io import write_jsonl
from taxfree.toyworld import build_model
from taxfree.train import sft_config

TRAINING = {**{key: prop["default"] for key, prop in load_schema()["$defs"]["training"]["properties"].items()},
            "learning_rate": 1e-3, "max_length": 128, "precision": "fp32"}


def test_prompt_tokens_masked_and_completion_trained(tmp_path, toy_splits, toy_tokenizer):
    from trl import SFTTrainer

    path = tmp_path / "refusal.jsonl"
    write_jsonl(path, toy_splits["refusal"][:6])
    model = build_model(toy_tokenizer, hidden_size=32, num_layers=1, intermediate_size=64, num_heads=2, seed=0)
    trainer = SFTTrainer(model=model, args=sft_config(TRAINING, tmp_path / "out"),
                         train_dataset=load_sft_dataset(path), processing_class=toy_tokenizer)
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(6)])
    for row, ids, labels in zip(toy_splits["refusal"][:6], batch["input_ids"], batch["labels"]):
        prompt_ids = toy_tokenizer.apply_chat_template(row["prompt"], tokenize=True, add_generation_prompt=True,
                                                       return_dict=True)["input_ids"]
        trained = [int(t) for t, label in zip(ids, labels) if label != -100]
        assert trained, "no token is trained"
        assert all(label == -100 for label in labels[: len(prompt_ids)])
        expected = row["completion"][0]["content"] + " " + toy_tokenizer.eos_token
        assert toy_tokenizer.decode(trained) == expected
