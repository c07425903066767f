"""Loss is on the completion only: labels are non-empty and every prompt token is masked.

Checked for the toy tokenizer, a Qwen2-style (ChatML) template, and an R1-style template
that drops the reasoning block from assistant messages and opens it in the generation prompt.
"""

import pytest

from taxfree.config.schema import training_defaults
from taxfree.core.io import write_jsonl
from taxfree.data.datasets import load_sft_dataset, render
from taxfree.data.toyworld import build_model, build_tokenizer, vocabulary

TRAINING = {**training_defaults(),
            "learning_rate": 1e-3, "num_train_epochs": 1, "max_length": 128, "precision": "fp32"}

QWEN2_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# Like DeepSeek-R1-Distill's: assistant history loses its reasoning; generation opens <think>.
R1_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'user' %}<|User|>{{ message['content'] }}"
    "{% else %}{% set content = message['content'] %}{% if '</think>' in content %}"
    "{% set content = content.split('</think>')[-1] %}{% endif %}<|Assistant|>{{ content }}<|eos|>{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}<|Assistant|><think>\n{% endif %}"
)


def tokenizer_with(template, splits):
    tokenizer = build_tokenizer(vocabulary(splits))
    if template:
        tokenizer.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>", "<|User|>",
                                                                    "<|Assistant|>"]})
        tokenizer.add_tokens(["assistant", "user"])
        tokenizer.chat_template = template
    return tokenizer


@pytest.mark.parametrize("template", [None, QWEN2_TEMPLATE, R1_TEMPLATE], ids=["toy", "qwen2", "r1"])
def test_prompt_tokens_masked_and_completion_trained(tmp_path, toy_splits, template):
    from trl import SFTTrainer

    from taxfree.training.methods.sft import sft_arguments

    tokenizer = tokenizer_with(template, toy_splits)
    rows = toy_splits["refusal"][:6]
    path = tmp_path / "refusal.jsonl"
    write_jsonl(path, rows)
    model = build_model(tokenizer, hidden_size=32, num_layers=1, intermediate_size=64, num_heads=2, seed=0)
    trainer = SFTTrainer(model=model, args=sft_arguments(TRAINING, tmp_path / "out"),
                         train_dataset=load_sft_dataset(path, tokenizer, TRAINING["max_length"],
                                                                       TRAINING["max_overlong_fraction"]), processing_class=tokenizer)
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(len(rows))])
    for row, ids, labels in zip(rows, batch["input_ids"], batch["labels"]):
        prompt_text = tokenizer.apply_chat_template(row["prompt"], tokenize=False, add_generation_prompt=True)
        n_prompt = len(tokenizer(prompt_text, add_special_tokens=False)["input_ids"])
        trained = [int(t) for t, label in zip(ids, labels) if label != -100]
        assert trained, "no token is trained"
        assert all(label == -100 for label in labels[:n_prompt])
        text = tokenizer.decode(trained)
        assert text.split() == (render(row, tokenizer)["completion"] + " " + tokenizer.eos_token).split()
        # The reasoning block is trained on, whatever the template does with assistant history.
        reasoning = row["completion"][0]["content"].split("</think>")[0].removeprefix("<think>").strip()
        assert f"{reasoning} </think>" in text
        assert text.split().count("<think>") + prompt_text.split().count("<think>") <= 1
