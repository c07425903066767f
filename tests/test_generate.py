"""Generation: one row per sample with its own seed, the HF backend on a tiny model, and the vLLM backend's
selection and request building against a fake ``vllm`` (vLLM itself needs a GPU)."""

import json
import sys

import pytest

from taxfree.core import inference
from taxfree.core.errors import InputError
from taxfree.core.inference import by_seed, generate_file, generate_files
from taxfree.core.io import read_jsonl, write_jsonl

ROWS = [{"prompt_id": p, "sample": s, "seed": 7 + s, "prompt": prompt}
        for p, prompt in enumerate(["what is 1 + 2", "how to make a kite"]) for s in range(2)]
PARAMS = {"max_new_tokens": 5, "temperature": 1.0, "top_p": 1.0, "batch_size": 4}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from taxfree.data.toyworld import build_model, build_tokenizer

    path = tmp_path_factory.mktemp("tiny")
    tokenizer = build_tokenizer(["what", "is", "1", "2", "+", "how", "to", "make", "a", "kite", "<think>", "</think>"])
    build_model(tokenizer, hidden_size=16, num_layers=1, intermediate_size=32, num_heads=2, seed=0).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_rows_are_grouped_by_seed():
    assert by_seed(ROWS) == {7: [0, 2], 8: [1, 3]}


def test_hf_backend_writes_every_sample_reproducibly(tiny_model, tmp_path):
    write_jsonl(tmp_path / "in.jsonl", ROWS)
    for name in ("a", "b"):
        generate_file(tiny_model, tmp_path / "in.jsonl", tmp_path / f"{name}.jsonl", **PARAMS)
    out = read_jsonl(tmp_path / "a.jsonl")
    assert out == read_jsonl(tmp_path / "b.jsonl")
    assert [(r["prompt_id"], r["sample"], r["seed"]) for r in out] == [(0, 0, 7), (0, 1, 8), (1, 0, 7), (1, 1, 8)]
    for row in out:
        assert {"prompt", "response", "final_answer", "n_prompt_tokens", "n_response_tokens", "seed"} <= set(row)
        assert 1 <= row["n_response_tokens"] <= 5 and row["n_prompt_tokens"] > 0
    assert out[0]["response"] != out[1]["response"]  # two seeds, two samples
    assert "vllm" not in sys.modules  # imported only when selected


def test_one_job_loads_the_model_once_for_every_benchmark(tiny_model, tmp_path, monkeypatch):
    write_jsonl(tmp_path / "a.jsonl", ROWS)
    write_jsonl(tmp_path / "b.jsonl", ROWS[:2])
    for name in ("a", "b"):
        generate_file(tiny_model, tmp_path / f"{name}.jsonl", tmp_path / f"alone_{name}.jsonl", **PARAMS)
    loads = []
    load = inference.load_for_inference
    monkeypatch.setattr(inference, "load_for_inference", lambda *args: loads.append(args) or load(*args))
    generate_files(tiny_model, [(tmp_path / "a.jsonl", tmp_path / "together_a.jsonl", PARAMS),
                                (tmp_path / "b.jsonl", tmp_path / "together_b.jsonl", {**PARAMS, "max_new_tokens": 3})])
    assert len(loads) == 1
    # Same rows as one benchmark at a time: a row's seed, not what was generated before it, decides its sample.
    assert read_jsonl(tmp_path / "together_a.jsonl") == read_jsonl(tmp_path / "alone_a.jsonl")
    assert all(row["n_response_tokens"] <= 3 for row in read_jsonl(tmp_path / "together_b.jsonl"))


def test_vllm_backend_builds_one_seeded_request_per_sample(fake_vllm, tmp_path):
    write_jsonl(tmp_path / "in.jsonl", ROWS)
    generate_file(tmp_path / "model", tmp_path / "in.jsonl", tmp_path / "out.jsonl", backend="vllm", **PARAMS)
    assert fake_vllm["llm"] == {"model": str(tmp_path / "model"), "trust_remote_code": False}
    assert fake_vllm["lora"] is None
    assert [p["seed"] for p in fake_vllm["params"]] == [7, 8, 7, 8]
    assert fake_vllm["params"][0] == {"n": 1, "seed": 7, "temperature": 1.0, "top_p": 1.0, "max_tokens": 5}
    assert fake_vllm["messages"][2] == [{"role": "user", "content": "how to make a kite"}]
    out = read_jsonl(tmp_path / "out.jsonl")
    assert [r["final_answer"] for r in out] == [f"answer {i}" for i in range(4)]
    assert (out[0]["n_prompt_tokens"], out[0]["n_response_tokens"], out[3]["seed"]) == (3, 5, 8)
    assert out[0]["n_reasoning_tokens"] == 1


def test_vllm_serves_an_adapter_on_its_base_model(fake_vllm, tmp_path):
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "/base", "r": 4}))
    write_jsonl(tmp_path / "in.jsonl", ROWS[:1])
    generate_file(adapter, tmp_path / "in.jsonl", tmp_path / "out.jsonl", backend="vllm", **PARAMS)
    assert fake_vllm["llm"] == {"model": "/base", "enable_lora": True, "max_lora_rank": 8,
                                "tokenizer": str(adapter), "trust_remote_code": False}
    assert fake_vllm["lora"] == ("adapter", 1, str(adapter))


def test_vllm_engine_settings_reach_the_engine(fake_vllm, tmp_path):
    """The generate rule passes the benchmark's vllm block, resolved (taxfree.core.resources.vllm_engine), and
    the model's load options; vLLM takes the engine settings and trust_remote_code."""
    from taxfree.core.resources import vllm_engine

    benchmark = {"max_new_tokens": 32768, "vllm": {"tensor_parallel_size": None, "max_model_len": None,
                                                   "gpu_memory_utilization": 0.85, "dtype": None}}
    engine = vllm_engine(benchmark, "bfloat16", 2)
    write_jsonl(tmp_path / "in.jsonl", ROWS[:1])
    generate_file(tmp_path / "model", tmp_path / "in.jsonl", tmp_path / "out.jsonl", backend="vllm", vllm=engine,
                  load={"trust_remote_code": True, "dtype": "bfloat16", "attn_implementation": "sdpa"}, **PARAMS)
    assert fake_vllm["llm"] == {"model": str(tmp_path / "model"), "tensor_parallel_size": 2,
                                "max_model_len": 32768 + 4096, "gpu_memory_utilization": 0.85, "dtype": "bfloat16",
                                "trust_remote_code": True}


def test_a_prompt_longer_than_the_models_context_fails_naming_the_benchmark_and_rows(tiny_model, tmp_path):
    # The toy model has 256 positions; the second prompt alone is 300 tokens.
    rows = [{"prompt_id": 0, "sample": 0, "seed": 1, "prompt": "what is 1 + 2"},
            {"prompt_id": 1, "sample": 0, "seed": 1, "prompt": " ".join(["1 + 2"] * 100)},
            {"prompt_id": 1, "sample": 1, "seed": 2, "prompt": " ".join(["1 + 2"] * 100)}]
    write_jsonl(tmp_path / "in.jsonl", rows)
    with pytest.raises(InputError, match=rf"^{tmp_path / 'in.jsonl'}: 2 of 3 rows have a prompt longer than the "
                                         r"model's context of 256 tokens \(the longest has \d+\): rows 2, 3$"):
        generate_file(tiny_model, tmp_path / "in.jsonl", tmp_path / "out.jsonl", **PARAMS)
    assert not (tmp_path / "out.jsonl").exists()
