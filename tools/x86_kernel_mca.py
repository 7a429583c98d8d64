#!/usr/bin/env python3
"""Predicted cycles of an x86 GEMM kernel's inner loops on CPUs this machine is not (llvm-mca).

  tools/x86_kernel_mca.py [--binary build/tools/ple-bench] [--function qu8s8_gemm__avx2]
                          [--cpus haswell,skylake,znver2,znver3]

The AVX2 kernels run on CPUs without AVX-512 VNNI (Intel Haswell to Comet Lake, AMD Zen 1 to 3);
a development machine with VNNI never runs them in production, so its wall time says little
about them. This finds the innermost loops holding a multiply-add instruction in the functions
whose demangled name matches --function (the loop finder of tools/x86_callgrind_split.py, so
both tools agree on what an inner loop is), and prints llvm-mca's steady-state cycles per
iteration for each CPU model, and per multiply instruction (vpmaddwd, vpmaddubsw, vpdpbusd,
vfmadd...). A prediction, repeatable, not a measurement: it ignores cache misses and the code
outside the loop. Runs `llvm-mca` from PATH (Debian's llvm-14 for the figures in
docs/performance.md; another LLVM version's CPU models can give other numbers).
"""
import argparse
import importlib.util
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("x86_callgrind_split", os.path.join(HERE, "x86_callgrind_split.py"))
split = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(split)


def loop_body(binary, first, last):
    """The loop's instructions in AT&T syntax, without its jumps (llvm-mca repeats the block)."""
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", "-M", "att", f"--start-address={first:#x}",
                          f"--stop-address={last + 1:#x}", binary], capture_output=True, text=True, check=True).stdout
    body = []
    for line in out.splitlines():
        m = re.match(r"^\s+[0-9a-f]+:\s+(.*)$", line)
        if m and not m.group(1).startswith("j") and not m.group(1).startswith("."):
            body.append(re.sub(r"\s+<.*>$", "", m.group(1)).split("#")[0].rstrip())
    return body


def mca_cycles(lines, cpu, iterations=200):
    with tempfile.NamedTemporaryFile("w", suffix=".s", delete=False) as f:
        f.write("\n".join(lines) + "\n")
        path = f.name
    try:
        out = subprocess.run(["llvm-mca", f"-mcpu={cpu}", f"-iterations={iterations}", path], capture_output=True,
                             text=True, check=True).stdout
    finally:
        os.unlink(path)
    m = re.search(r"Total Cycles:\s+(\d+)", out)
    return int(m.group(1)) / iterations


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default="build/tools/ple-bench")
    parser.add_argument("--function", default="qu8s8_gemm__avx2")
    parser.add_argument("--cpus", default="haswell,skylake,znver2,znver3")
    args = parser.parse_args()
    cpus = args.cpus.split(",")
    pattern = re.compile(args.function)
    found = False
    for start, size, name in split.symbols(args.binary):
        if not pattern.search(name):
            continue
        for first, last in split.inner_multiply_loops(args.binary, start, size):
            body = loop_body(args.binary, first, last)
            multiplies = sum(1 for line in body if split.MULTIPLIES.match(line))
            spills = sum(1 for line in body if "(%rsp)" in line)
            found = True
            print(f"{name[:70]}\n  loop {first:#x}-{last:#x}: {len(body)} instructions, {multiplies} multiplies, "
                  f"{spills} stack operands")
            for cpu in cpus:
                cycles = mca_cycles(body, cpu)
                print(f"  {cpu:>10}: {cycles:6.2f} cycles an iteration, {cycles / max(multiplies, 1):.3f} a multiply")
    if not found:
        sys.exit(f"x86_kernel_mca: no inner multiply loop in a function matching {args.function!r} in {args.binary}")


if __name__ == "__main__":
    main()
