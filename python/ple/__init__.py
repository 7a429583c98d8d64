"""PLE edge runtime for Python: load a converted model (.ple), score candidates from numpy
arrays, get per-task outputs, scores, top-K and gate weights, run conformance bundles, compare a
quantized model's outputs and rankings with its float32 conversion.

    import numpy as np, ple
    model = ple.Model("feed-ranker.ple")
    session = ple.Session(model)
    outputs, scores = session.run({"video_id": np.array([233, 36]), ...},
                                  request={"user_id": 168, ...}, scores=True)

docs/python.md is the manual. Errors of the C API are raised as ple.Error (a RuntimeError)
with .status (the ple_status code) and .status_name.
"""
from ._ple import (Error, Model, Request, Session, __version__, abi_version, compare_ranking, cpu_classes, hash64,
                   kernel_paths, quantization_report, run_bundle, schema_version, top_k, version)

__all__ = ["Error", "Model", "Request", "Session", "__version__", "abi_version", "compare_ranking", "cpu_classes",
           "hash64", "kernel_paths", "quantization_report", "run_bundle", "schema_version", "top_k", "version"]
