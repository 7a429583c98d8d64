"""Encoders (docs/encoders.md) from Python: tools/ple_hash.py and ple.hash64 against the test
vector the C++ tests check too, and raw values through the model's encoders giving exactly the
outputs the ids give (ctest sets PLE_ENCODED_MODEL: tests/data/encoders/config.json converted)."""
import json
import os
import sys

import numpy as np
import pytest

import ple

SOURCE = os.path.join(os.path.dirname(__file__), "..", "..")
sys.path.insert(0, os.path.join(SOURCE, "tools"))
import ple_hash  # noqa: E402  (the training side's helper, standard library only)

VECTORS = json.load(open(os.path.join(SOURCE, "tests", "data", "hash_vectors.json"), encoding="utf-8"))


@pytest.mark.parametrize("entry", VECTORS["strings"] + VECTORS["ints"])
def test_hash_matches_the_shared_vector(entry):
    expected = int(entry["hash"], 16)
    assert ple_hash.hash64(entry["value"]) == expected
    assert ple.hash64(entry["value"]) == expected
    assert ple_hash.hash_bucket(entry["value"], 1000) == entry["bucket_1000"]


def test_hash_helper_refuses_what_it_cannot_hash():
    with pytest.raises(TypeError):
        ple_hash.hash64(1.5)
    with pytest.raises(ValueError):
        ple_hash.hash_bucket("a", 0)


def read(path):
    lines = [json.loads(line) for line in open(path) if line.strip()]
    return lines[0]["request"], lines[1:]


@pytest.fixture(scope="module")
def encoded():
    path = os.environ.get("PLE_ENCODED_MODEL")
    if not path:
        pytest.skip("PLE_ENCODED_MODEL is not set (ctest sets it)")
    return ple.Model(path)


def test_raw_values_give_the_outputs_of_ids(encoded):
    features = {f["name"]: f for f in encoded.features}
    assert features["video_category"]["encoder"] == "string vocabulary"
    assert features["hour"]["encoder"] == "bucket boundaries"
    assert features["video_id"]["encoder"] == ""
    raw_request, raw = read(os.path.join(SOURCE, "tests", "data", "encoders", "raw_request.jsonl"))
    id_request, ids = read(os.path.join(SOURCE, "examples", "feed", "request.jsonl"))
    session = ple.Session(encoded)

    def columns(candidates, category):
        return {"video_id": np.array([c["video_id"] for c in candidates]),
                "video_category": category,
                "video_quality": np.array([c["video_quality"] for c in candidates]),
                "video_len": np.array([c["video_len"] for c in candidates])}

    from_raw, raw_scores = session.run(columns(raw, [c["video_category"] for c in raw]), request=raw_request,
                                       scores=True)
    plain = ple.Model(os.environ["PLE_EXAMPLE_MODEL"])
    from_ids, id_scores = ple.Session(plain).run(columns(ids, np.array([c["video_category"] for c in ids])),
                                                 request=id_request, scores=True)
    assert np.array_equal(from_raw, from_ids)
    assert np.array_equal(raw_scores, id_scores)


def test_raw_value_errors(encoded):
    raw_request, raw = read(os.path.join(SOURCE, "tests", "data", "encoders", "raw_request.jsonl"))
    session = ple.Session(encoded)
    base = {"video_id": np.array([c["video_id"] for c in raw[:2]]),
            "video_quality": np.array([c["video_quality"] for c in raw[:2]]),
            "video_len": np.array([1.0, 2.0])}
    with pytest.raises(ple.Error, match="not in its vocabulary"):
        session.run(dict(base, video_category=["cat01", "nope"]), request=raw_request)
    with pytest.raises(TypeError, match="takes strings"):
        session.run(dict(base, video_category=[1, 2]), request=raw_request)
