#!/usr/bin/python3
"""TorchScript float32 peer: latency, load cost, memory, and which BLAS did the work.

    /usr/bin/python3 bench/peers/torch_bench.py --model DIR/model.pt --inputs DIR \
        --batches 1,50,200,1000 --threads 1 --runs N --warmup M [--max-seconds S] \
        [--openblas-coretype auto|SkylakeX|Haswell|none] [--out FILE.json]

Same protocol as ort_bench.js: the module and the input tensors (the first B rows of
DIR/inputs.npz) are made once; only `module(*inputs)` under torch.inference_mode() is timed
(time.perf_counter_ns). torch.set_num_threads(threads), one inter-op thread.

BLAS: Debian's python3-torch is built with BLAS_INFO=generic: its float GEMMs call whatever
libblas.so.3 update-alternatives points at. That is the reference BLAS (unoptimised, not a
fair peer) unless libopenblas0-pthread is installed (setup.sh installs it). OpenBLAS reads
OPENBLAS_CORETYPE and OPENBLAS_NUM_THREADS when it loads, i.e. at `import torch`, so this
script sets them first: the core type given (default auto: SkylakeX, the AVX-512 kernels, when
the CPU has AVX-512, else Haswell with AVX2; "none" leaves OpenBLAS's own detection; here it
detects Prescott, SSE3 kernels, about 3x slower) and
the thread count (torch.set_num_threads does not reach a "generic" BLAS), and
OMP_WAIT_POLICY=PASSIVE unless set (see below). The result records the library actually
mapped, its config string and core, and these variables.
"""

import argparse
import os
import sys


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--inputs", required=True, help="export.py's --out directory")
    parser.add_argument("--batches", default="1,50,200,1000")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--max-seconds", type=float, default=10.0,
                        help="stop a batch's timed runs after this (at least 5 runs; warmup "
                             "stops after a fifth of it), as ort_bench.js")
    parser.add_argument("--openblas-coretype", default="auto",
                        help="OPENBLAS_CORETYPE to load OpenBLAS with ('none': not set; 'auto': "
                             "SkylakeX with AVX-512, Haswell with AVX2 and FMA, else not set)")
    parser.add_argument("--peer", default="torchscript-f32")
    parser.add_argument("--out")
    return parser.parse_args(argv)


def auto_coretype():
    """The widest OpenBLAS kernels this CPU runs (its own detection picks Prescott in these VMs;
    SkylakeX's kernels on a CPU without AVX-512 die of an illegal instruction)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return "none"
    if "avx512f" in flags and "avx512bw" in flags and "avx512vl" in flags:
        return "SkylakeX"
    if "avx2" in flags and "fma" in flags:
        return "Haswell"
    return "none"


ARGS = parse_args(sys.argv[1:])
if ARGS.openblas_coretype == "auto":
    ARGS.openblas_coretype = auto_coretype()
CORETYPE_BEFORE = os.environ.get("OPENBLAS_CORETYPE")
if ARGS.openblas_coretype != "none":
    os.environ["OPENBLAS_CORETYPE"] = ARGS.openblas_coretype
else:
    os.environ.pop("OPENBLAS_CORETYPE", None)
os.environ["OPENBLAS_NUM_THREADS"] = str(ARGS.threads)
os.environ["OMP_NUM_THREADS"] = str(ARGS.threads)
# Two thread pools share the cores at threads > 1: torch's OpenMP one (element-wise ops) and
# OpenBLAS's pthread one (the GEMMs). libgomp's default spin-wait keeps torch's idle threads on
# the cores OpenBLAS needs: measured on bench-m-dense batch 200, 2 threads, 2 busy cores,
# 652 ms per request spinning against 8.7 ms with PASSIVE. The caller's value wins.
OMP_WAIT_POLICY_BEFORE = os.environ.get("OMP_WAIT_POLICY")
if not OMP_WAIT_POLICY_BEFORE:
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"

import ctypes  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402


def status_bytes(field):
    with open("/proc/self/status") as f:
        m = re.search(rf"^{field}:\s*(\d+)\s*kB", f.read(), re.M)
    return int(m.group(1)) * 1024 if m else None


def blas_info():
    """Which BLAS torch's GEMMs go to, as loaded in this process."""
    show = torch.__config__.show()
    m = re.search(r"BLAS_INFO=([^,\s]+)", show)
    with open("/proc/self/maps") as f:
        mapped = sorted({line.split()[-1] for line in f
                         if re.search(r"/lib(open)?blas[^/]*\.so", line)})
    info = {"torch_blas_info": m.group(1) if m else None, "mapped": mapped,
            "libblas.so.3": os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3"),
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
            "OPENBLAS_CORETYPE_in_caller_env": CORETYPE_BEFORE,
            "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
            "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY")}
    try:
        lib = ctypes.CDLL("libblas.so.3")
        for name in ("openblas_get_config", "openblas_get_corename"):
            fn = getattr(lib, name)
            fn.restype = ctypes.c_char_p
            info[name] = fn().decode()
        info["openblas_num_threads"] = lib.openblas_get_num_threads()
        info["kind"] = "openblas"
    except (OSError, AttributeError):
        info["kind"] = "reference" if any("/blas/" in p for p in mapped) else "unknown"
    return info


def stats(times_us, batch):
    s = np.sort(np.asarray(times_us, dtype=np.float64))

    def q(p):  # nearest rank, as ort_bench.js
        return float(s[min(len(s) - 1, max(0, int(np.ceil(p * len(s))) - 1))])
    p50 = float(np.median(s))
    return {"min_us": float(s[0]), "mean_us": float(s.mean()), "p50_us": p50,
            "p95_us": q(0.95), "p99_us": q(0.99), "max_us": float(s[-1]), "runs": len(s),
            "candidates_per_s": batch * 1e6 / p50}


def main():
    torch.set_num_threads(ARGS.threads)
    torch.set_num_interop_threads(1)
    with open(os.path.join(ARGS.inputs, "meta.json")) as f:
        meta = json.load(f)
    arrays = np.load(os.path.join(ARGS.inputs, "inputs.npz"))
    names = [i["name"] for i in meta["inputs"]]
    batches = [int(b) for b in ARGS.batches.split(",")]

    rss_before = status_bytes("VmRSS")
    t0 = time.perf_counter_ns()
    module = torch.jit.load(ARGS.model).eval()
    load_first_ms = (time.perf_counter_ns() - t0) / 1e6
    rss_after_create = status_bytes("VmRSS")

    latency = []
    with torch.inference_mode():
        for batch in batches:
            feeds = tuple(torch.from_numpy(np.ascontiguousarray(arrays[n][:batch])) for n in names)
            budget_ns = int(ARGS.max_seconds * 1e9)
            start = time.perf_counter_ns()
            for _ in range(ARGS.warmup):
                if time.perf_counter_ns() - start >= budget_ns // 5:
                    break
                module(*feeds)
            times = []
            start = time.perf_counter_ns()
            while len(times) < ARGS.runs and (len(times) < 5 or
                                              time.perf_counter_ns() - start < budget_ns):
                t0 = time.perf_counter_ns()
                module(*feeds)
                times.append((time.perf_counter_ns() - t0) / 1e3)
            latency.append(dict({"peer": ARGS.peer, "model": meta["model"], "batch": batch,
                                 "threads": ARGS.threads}, **stats(times, batch)))
    rss_after_runs = status_bytes("VmRSS")
    peak = status_bytes("VmHWM")
    t0 = time.perf_counter_ns()
    again = torch.jit.load(ARGS.model).eval()
    load_again_ms = (time.perf_counter_ns() - t0) / 1e6
    del again

    result = {
        "latency": latency,
        "session": [{"peer": ARGS.peer, "model": meta["model"], "threads": ARGS.threads,
                     "create_first_ms": load_first_ms, "create_again_ms": load_again_ms,
                     "rss_before_bytes": rss_before, "rss_after_create_bytes": rss_after_create,
                     "rss_after_runs_bytes": rss_after_runs, "peak_rss_bytes": peak,
                     "model_file_bytes": os.path.getsize(ARGS.model)}],
        "blas": blas_info(),
        "torch": {"version": torch.__version__, "num_threads": torch.get_num_threads(),
                  "interop_threads": torch.get_num_interop_threads()},
    }
    text = json.dumps(result, indent=1)
    if ARGS.out:
        with open(ARGS.out, "w") as f:
            f.write(text + "\n")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
