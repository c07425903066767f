"""Hub assets fail fast with the config key: unknown ids, gated repositories, no hub. Offline only: the
loaders are monkeypatched to raise the hub's errors, or run with HF_HUB_OFFLINE=1 (set in conftest)."""

import datasets
import pytest
import transformers
from datasets.exceptions import DatasetNotFoundError
from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError

from taxfree.core.errors import HubError
from taxfree.core.hub import hub_asset
from taxfree.core.models import save_base_model
from taxfree.data.benchmarks import prepare_evalset
from taxfree.data.datasets import prepare


def hub_error(cls, message):
    """One of the hub's HTTP errors without an HTTP response (their constructor needs one)."""
    error = cls.__new__(cls)
    error.args = (message,)
    return error


def raising(error):
    def load(*args, **kwargs):
        raise error
    return load


def wrapped(cause, outer):
    """``outer`` raised from ``cause``, as transformers and datasets wrap the hub's errors."""
    try:
        try:
            raise cause
        except Exception as inner:
            raise outer from inner
    except Exception as error:
        return error


BENCHMARK = {"hub": "Idavidrein/gpqa", "hub_config": "gpqa_diamond", "split": "train", "revision": None,
             "columns": {"prompt": "Question", "answer": None, "example": None}, "choices": None, "where": {}, "max_rows": None,
             "unique_prompts": False, "prompt_template": "{prompt}", "num_samples": 1, "seed": 0}


def test_unknown_model_names_the_key(monkeypatch):
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", raising(wrapped(
        hub_error(RepositoryNotFoundError, "404"), OSError("deepseek-ai/typo is not a valid model identifier"))))
    with pytest.raises(HubError) as info, hub_asset("models.r1_qwen_7b.id", "model", "deepseek-ai/typo"):
        save_base_model("deepseek-ai/typo", "unused")
    assert str(info.value).startswith(
        "config key 'models.r1_qwen_7b.id': no model 'deepseek-ai/typo' on the Hugging Face hub")


def test_gated_benchmark_says_accept_terms_and_set_token(monkeypatch):
    monkeypatch.setattr(datasets, "load_dataset", raising(wrapped(
        hub_error(GatedRepoError, "403"), DatasetNotFoundError("Dataset 'Idavidrein/gpqa' is a gated dataset"))))
    with pytest.raises(HubError) as info, hub_asset("benchmarks.gpqa_diamond.hub", "dataset", "Idavidrein/gpqa"):
        prepare_evalset(BENCHMARK)
    message = str(info.value)
    assert message.startswith("config key 'benchmarks.gpqa_diamond.hub': the dataset 'Idavidrein/gpqa' is gated")
    assert "https://huggingface.co/datasets/Idavidrein/gpqa" in message and "HF_TOKEN" in message


def test_gated_model_links_the_model_page(monkeypatch):
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", raising(wrapped(
        hub_error(GatedRepoError, "403"), OSError("You are trying to access a gated repo."))))
    with pytest.raises(HubError, match=r"https://huggingface.co/meta-llama/Llama-Guard-3-8B with your account"), \
            hub_asset("benchmarks.strongreject.judge_model.model", "model", "meta-llama/Llama-Guard-3-8B"):
        save_base_model("meta-llama/Llama-Guard-3-8B", "unused")


def test_unknown_dataset_and_revision(monkeypatch):
    spec = {"hub": "TianshengHuang/typo", "split": "train", "revision": None, "max_rows": None, "format": "chat"}
    monkeypatch.setattr(datasets, "load_dataset", raising(wrapped(
        hub_error(RepositoryNotFoundError, "404"), DatasetNotFoundError("doesn't exist on the Hub"))))
    with pytest.raises(HubError, match=r"^config key 'datasets.direct_refusal.hub': no dataset 'TianshengHuang/typo'"), \
            hub_asset("datasets.direct_refusal.hub", "dataset", spec["hub"]):
        prepare(spec)
    monkeypatch.setattr(datasets, "load_dataset", raising(wrapped(
        hub_error(RevisionNotFoundError, "404"), DatasetNotFoundError("Revision 'v9' doesn't exist"))))
    with pytest.raises(HubError, match="has no such revision"), hub_asset("datasets.x.hub", "dataset", spec["hub"]):
        prepare(spec)


def test_offline_says_the_hub_was_not_reachable():
    # HF_HUB_OFFLINE=1 (conftest): the real loaders look only in the cache, where these ids are not.
    with pytest.raises(HubError) as info, hub_asset("models.r1_qwen_7b.id", "model", "deepseek-ai/not-cached"):
        save_base_model("deepseek-ai/not-cached", "unused")
    assert str(info.value).startswith("config key 'models.r1_qwen_7b.id': the Hugging Face hub was not reachable "
                                      "(HF_HUB_OFFLINE=1 is set) to fetch the model 'deepseek-ai/not-cached'")
    with pytest.raises(HubError, match="^config key 'benchmarks.math500.hub': the Hugging Face hub was not reachable"), \
            hub_asset("benchmarks.math500.hub", "dataset", "HuggingFaceH4/not-cached"):
        prepare_evalset({**BENCHMARK, "hub": "HuggingFaceH4/not-cached", "hub_config": None})


def test_other_errors_pass_through():
    with pytest.raises(KeyError), hub_asset("models.m.id", "model", "org/model"):
        raise KeyError("not from the hub")
    # A local source's errors are never read as hub errors.
    with pytest.raises(ConnectionError), hub_asset("datasets.d.hub", "dataset", None):
        raise ConnectionError("local")
