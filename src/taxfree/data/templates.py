"""Chat templates of the paper models' families (package data in ``chat_templates/``)."""

from __future__ import annotations

from pathlib import Path

TEMPLATE_DIR = Path(__file__).with_name("chat_templates")
TEMPLATES = tuple(sorted(path.stem for path in TEMPLATE_DIR.glob("*.jinja")))

# The special tokens each template writes, as its family's tokenizer names them, so that a tokenizer built
# for a template (a tiny stand-in model's) keeps each one whole: begin and end of text, then turn markers.
SPECIAL_TOKENS: dict[str, dict[str, str | None | list[str]]] = {
    "deepseek_r1_distill": {"bos": "<｜begin▁of▁sentence｜>", "eos": "<｜end▁of▁sentence｜>",
                            "markers": ["<｜User｜>", "<｜Assistant｜>"]},
    "qwen2_5_instruct": {"bos": None, "eos": "<|im_end|>", "markers": ["<|im_start|>"]},
}


def chat_template(name: str) -> str:
    """The Jinja text of a template: ``deepseek_r1_distill`` or ``qwen2_5_instruct``."""
    if name not in TEMPLATES:
        raise ValueError(f"no chat template '{name}' (have: {', '.join(TEMPLATES)})")
    return (TEMPLATE_DIR / f"{name}.jinja").read_text(encoding="utf-8").rstrip("\n")
