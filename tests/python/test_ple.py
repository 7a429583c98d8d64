"""The Python package against the example model and the conformance bundles (pytest).

Run by ctest ("python: pytest") with PYTHONPATH=<build>/python and PLE_EXAMPLE_MODEL set to
the example model ple-convert wrote; the expected values come from examples/feed/expected.json,
written by the float64 PyTorch reference (tests/reference/make_example.py), never by us.
"""
import json
import os
import threading

import numpy as np
import pytest

import ple

SOURCE = os.path.join(os.path.dirname(__file__), "..", "..")
EXAMPLE = os.path.join(SOURCE, "examples", "feed")
MODEL = os.environ.get("PLE_EXAMPLE_MODEL", os.path.join(SOURCE, "build", "tests", "feed-ranker.ple"))


def read_request(path):
    """The request and candidates of ple-run's JSON lines (one request)."""
    with open(path) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    return lines[0]["request"], lines[1:]


def candidate_arrays(model, candidates):
    columns = {}
    for feature in model.features:
        if feature["scope"] != "candidate":
            continue
        name = feature["name"]
        dtype = np.float32 if feature["kind"] == "dense" else np.int64
        columns[name] = np.array([c[name] for c in candidates], dtype=dtype)
    for extra in model.extras:
        columns[extra] = np.array([c[extra] for c in candidates], dtype=np.float32)
    return columns


@pytest.fixture(scope="module")
def model():
    return ple.Model(MODEL, verify=True)


def test_versions_are_semantic():
    for v in (ple.version(), ple.abi_version(), ple.schema_version(), ple.__version__):
        parts = v.split(".")
        assert len(parts) == 3 and all(p.isdigit() for p in parts), v
    assert ple.__version__ == ple.version()
    assert ple.abi_version().startswith("1.")


def test_inspect_tasks_and_features(model):
    assert model.task_names == ["click", "share", "comment"]
    assert all(t["type"] == "binary" for t in model.tasks)
    features = {f["name"]: f for f in model.features}
    assert features["history"]["kind"] == "sequence" and features["history"]["scope"] == "request"
    assert features["history"]["width"] == 20
    assert features["video_quality"]["kind"] == "dense" and features["video_quality"]["width"] == 2
    assert model.extras == ["video_len"]
    assert model.metadata("name") == "feed-ranker"
    assert len(model.levels) == 2 and len(model.levels[0]["experts"]) == 5
    assert model.levels[0]["gates"][0]["experts"] == [0, 3, 4]


def test_outputs_scores_and_ranking_match_the_pytorch_reference(model):
    expected = json.load(open(os.path.join(EXAMPLE, "expected.json")))
    request, candidates = read_request(os.path.join(EXAMPLE, "request.jsonl"))
    session = ple.Session(model, max_batch=16)
    outputs, scores = session.run(candidate_arrays(model, candidates), request=request, scores=True)
    assert outputs.shape == (10, 3) and outputs.dtype == np.float32
    reference = np.array([[row[t] for t in model.task_names] for row in expected["outputs"]], dtype=np.float64)
    assert np.max(np.abs(outputs - reference)) < 1e-5
    assert np.max(np.abs(scores - np.array(expected["scores"])) / np.abs(np.array(expected["scores"]))) < 1e-5
    top = ple.top_k(scores, 3)
    assert list(top) == list(np.argsort(-np.array(expected["scores"]), kind="stable")[:3])


def test_a_request_context_is_reused_and_gives_the_same_bits(model):
    request, candidates = read_request(os.path.join(EXAMPLE, "request.jsonl"))
    session = ple.Session(model)
    context = ple.Request(model, request)
    columns = candidate_arrays(model, candidates)
    a, _ = session.run(columns, request=context)
    b, _ = session.run(columns, request=request)
    half = {k: v[:5] for k, v in columns.items()}
    c, _ = session.run(half, request=context)
    assert np.array_equal(a, b)
    assert np.array_equal(a[:5], c)  # a candidate's outputs do not depend on its batch


def test_gate_weights_as_arrays(model):
    request, candidates = read_request(os.path.join(EXAMPLE, "request.jsonl"))
    session = ple.Session(model, record_gates=True)
    session.run(candidate_arrays(model, candidates), request=request)
    weights = session.gate_weights(0, 0)
    assert weights.shape == (10, 3)
    assert np.allclose(weights.sum(axis=1), 1.0, atol=1e-5)


def test_errors_are_python_exceptions(model):
    request, candidates = read_request(os.path.join(EXAMPLE, "request.jsonl"))
    session = ple.Session(model)
    columns = candidate_arrays(model, candidates)
    with pytest.raises(KeyError, match="not a feature"):
        session.run(dict(columns, nonsense=np.zeros(10)), request=request)
    del columns["video_category"]
    with pytest.raises(ple.Error) as error:
        session.run(columns, request=request)
    assert error.value.status == 1 and error.value.status_name  # PLE_ERROR_INVALID_ARGUMENT
    assert "video_category" in str(error.value)
    with pytest.raises(ple.Error) as error:
        ple.Model(os.path.join(EXAMPLE, "config.json"))
    assert error.value.status == 3  # PLE_ERROR_INVALID_MODEL
    with pytest.raises(ple.Error):
        ple.Session(model, kernels="no-such-path")


def test_run_a_conformance_bundle():
    result = ple.run_bundle(os.path.join(SOURCE, "tests", "bundles", "rechub_ple"), kernels="reference")
    assert result["passed"], result["report"]
    assert result["candidates"] == 64
    assert set(result["tasks"]) == {"task click", "task watch_time"}
    assert all(t["max_abs_error"] < 1e-5 for t in result["tasks"].values())


TOPOLOGIES = os.path.join(SOURCE, "tests", "data", "cpu-topologies")


def test_core_selection_on_fixture_trees(model, monkeypatch):
    """Big and little cores from sysfs fixture trees (PLE_CPU_SYSFS_ROOT), intersected with the CPUs
    this process may use; the workers' masks are what each read inside itself."""
    monkeypatch.setenv("PLE_CPU_SYSFS_ROOT", os.path.join(TOPOLOGIES, "phone-1-3-4-capacity"))
    classes = ple.cpu_classes()
    assert classes["source"] == "capacity" and classes["num_classes"] == 3
    assert classes["little"] == 0x0F and classes["big"] == 0xF0  # big: the middle and the prime cores
    monkeypatch.setenv("PLE_CPU_SYSFS_ROOT", os.path.join(TOPOLOGIES, "uniform-8"))
    assert ple.cpu_classes()["source"] == "uniform" and ple.cpu_classes()["big"] == 0xFF

    monkeypatch.setenv("PLE_CPU_SYSFS_ROOT", os.path.join(TOPOLOGIES, "phone-4-4-capacity"))
    allowed = ple.cpu_classes()["allowed"]
    assert allowed != 0
    request, candidates = read_request(os.path.join(EXAMPLE, "request.jsonl"))
    columns = candidate_arrays(model, candidates)
    everywhere, _ = ple.Session(model, max_batch=16, threads=3).run(columns, request=request)
    for cpus, cls in (("big", 0xF0), ("little", 0x0F)):
        if cls & allowed == 0:
            with pytest.raises(ple.Error, match="are all outside the CPUs this thread may run on"):
                ple.Session(model, max_batch=16, threads=3, cpus=cpus)
            continue
        session = ple.Session(model, max_batch=16, threads=3, cpus=cpus)
        assert session.worker_cpu_mask != 0 and session.worker_cpu_mask & ~(cls & allowed) == 0
        # On a thread of its own: a run moves its calling thread inside the selection and leaves it there.
        results = []
        caller = threading.Thread(target=lambda: results.append(session.run(columns, request=request)[0]))
        caller.start()
        caller.join()
        assert np.array_equal(results[0], everywhere)
    lowest = allowed & -allowed
    assert ple.Session(model, max_batch=16, threads=2, cpus=lowest).worker_cpu_mask == lowest
    with pytest.raises(ple.Error, match="cpu_mask is 0"):
        ple.Session(model, threads=2, cpus=0)
    with pytest.raises(ValueError, match="'all', 'big', 'little'"):
        ple.Session(model, cpus="medium")


def test_compare_ranking_worked_by_hand():
    same = ple.compare_ranking([3.0, 1.0, 2.0, 0.5], [3.0, 1.0, 2.0, 0.5])
    assert same["top1_kept"] and same["tau_b"] == pytest.approx(1.0) and same["ndcg"] == pytest.approx(1.0)
    assert np.isnan(same["top5"])  # no more than 5 candidates
    swapped = ple.compare_ranking([6, 5, 4, 3, 2, 1], [5, 6, 4, 3, 2, 1])
    assert not swapped["top1_kept"] and swapped["top3"] == 1.0
    assert swapped["tau_b"] == pytest.approx(13 / 15)
    with pytest.raises(ValueError):
        ple.compare_ranking([1.0, 2.0], [1.0])


def test_quantization_report_ranks_each_request_of_the_evaluation_set():
    int8 = os.environ["PLE_EXAMPLE_INT8_MODEL"]
    report = ple.quantization_report(MODEL, int8, os.path.join(EXAMPLE, "evaluation.jsonl"))
    assert report["requests"] == 40 and report["candidates"] == 2000
    assert report["grouping"] == "the requests of the data"
    assert set(report["tasks"]) == {"click", "share", "comment"}
    for task in report["tasks"].values():
        assert 0 < task["max_abs"] < 0.1 and abs(task["auc_quantized"] - task["auc_float32"]) < 0.005
    (ranking,) = report["rankings"]
    assert ranking["ranked_by"] == "score" and ranking["requests"] == 40
    assert 0.9 <= ranking["top5"] <= 1 and 0.9 <= ranking["tau_b"] <= 1 and ranking["worst_tau_b"] <= ranking["tau_b"]
    assert "ranking by the score over 40 requests" in report["report"]
