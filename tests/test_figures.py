import pandas as pd

from taxfree.report.figures import ablation, pareto_front, tradeoff, tradeoff_points


def test_pareto_front_keeps_only_undominated_points():
    points = pd.DataFrame({"variant": list("abcde"), "x": [0.0, 1.0, 1.0, 0.5, 0.4],
                           "y": [1.0, 0.0, 0.2, 0.8, 0.5]})
    assert list(pareto_front(points, "x", "y")["variant"]) == ["a", "d", "c"]


def summary():
    rows = []
    for variant, refusal, accuracy in (("base", 0.0, 1.0), ("lora", 1.0, 0.95), ("full", 1.0, 0.1)):
        for benchmark, metric, value in (("harmful", "refusal_rate", refusal), ("reasoning", "accuracy", accuracy)):
            rows.append({"model": "toy", "variant": variant, "benchmark": benchmark, "metric": metric,
                         "value": value, "ci_low": value - 0.05, "ci_high": value + 0.05})
            rows.append({**rows[-1], "metric": "response_tokens", "value": 30.0})
    return pd.DataFrame(rows)


def test_tradeoff_points_pair_safety_with_reasoning():
    points = tradeoff_points(summary(), "harmful", "reasoning").set_index("variant")
    assert points.loc["full", "safety"] == 1.0 and points.loc["full", "reasoning"] == 0.1
    assert len(points) == 3


def test_figures_are_written_as_png_and_pdf(tmp_path):
    outs = [tmp_path / "t.png", tmp_path / "t.pdf"]
    tradeoff(summary(), "harmful", "reasoning", outs)
    ablation(summary(), ["full", "lora", "missing"], "sweep", [tmp_path / "a.png", tmp_path / "a.pdf"])
    for name in ("t", "a"):
        assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
        assert (tmp_path / f"{name}.pdf").read_bytes()[:4] == b"%PDF"
