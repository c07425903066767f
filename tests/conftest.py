import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def toy_spec():
    from taxfree.toyworld import ToyWorldSpec

    return ToyWorldSpec(seed=0, n_reasoning_train=200, n_reasoning_eval=20, n_requests_per_topic=1,
                        n_eval_per_split=20, n_refusal_train=40, heldout_topic_fraction=0.25, min_ops=3, max_ops=4)


@pytest.fixture(scope="session")
def toy_splits(toy_spec):
    from taxfree.toyworld import generate

    return generate(toy_spec)


@pytest.fixture(scope="session")
def toy_tokenizer(toy_splits):
    from taxfree.toyworld import build_tokenizer, vocabulary

    return build_tokenizer(vocabulary(toy_splits))
