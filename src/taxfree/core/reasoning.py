"""Where the reasoning block of an R1-style response ends, and what comes after it.

Generation, judges, graders and preference rules all read responses through these
functions, so they agree on what counts as reasoning and what counts as the answer.

Some chat templates (DeepSeek-R1-Distill's) open the reasoning block in the prompt, so the
model's continuation has a ``</think>`` but no ``<think>``. Every place that generates records
the response through ``recorded_response``, which puts the template's opener back in front:
a continuation cut off inside its reasoning then still reads as reasoning (``truncated``),
never as an answer.
"""

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"


def reasoning_opener(prompt: str) -> str:
    """The text that opens the reasoning block at the end of a rendered prompt, exactly as the template wrote
    it (``"<think>\\n"`` for DeepSeek-R1-Distill); empty when the template leaves the block to the model."""
    body = prompt.rstrip()
    return prompt[len(body) - len(THINK_OPEN):] if body.endswith(THINK_OPEN) else ""


def recorded_response(prompt: str, continuation: str) -> str:
    """A generated continuation of a rendered prompt as it is recorded: the reasoning opener the prompt
    ended with, if any, followed by the continuation."""
    return reasoning_opener(prompt) + continuation


def truncated(response: str) -> bool:
    """Whether the reasoning block was opened and never closed: generation stopped inside it."""
    return THINK_OPEN in response and THINK_CLOSE not in response


def final_answer(response: str) -> str:
    """The text after the last ``</think>``; empty when the reasoning never closed (``truncated``)."""
    if THINK_CLOSE in response:
        return response.rsplit(THINK_CLOSE, 1)[1].strip()
    return "" if truncated(response) else response.strip()


def reasoning(response: str) -> str:
    """The reasoning block's text without its tags: all of it when it never closed, empty when there is none."""
    if THINK_CLOSE in response:
        body = response.split(THINK_CLOSE, 1)[0]
    else:
        body = response if truncated(response) else ""
    return body.replace(THINK_OPEN, " ").strip()
