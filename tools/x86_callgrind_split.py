#!/usr/bin/env python3
"""Instructions a candidate costs, inside and outside the GEMM inner loops (callgrind).

  tools/x86_callgrind_split.py [--build build] [--model M.ple] [--batch 200] [--kernels avx2]
                               [--mode per_row|broadcast] [--runs 2,6]

What issue "int8 at the hardware's pace" counts: ple-bench under valgrind's callgrind
(--dump-instr=yes), run twice with a different number of timed runs; the difference of the two
profiles is what those extra runs executed, without loading, preparing or the first run. Each
executed instruction is then placed:
  - GEMM inner loop: an innermost loop (a range closed by a backward jump with no other one
    inside) of a GEMM kernel function (name with "gemm", "Int8Tiles" or "FloatGemm") that holds
    a multiply-add instruction (vpmaddwd, vpmaddubsw, vpdpbusd, vfmadd...; not vmulps, which epilogues use): the multiply-adds and
    the loads feeding them;
  - everything else, per function: epilogues, quantization, gates, the feature layer, the run's
    own code.
Printed per candidate (the runs' instructions / (runs x batch)). Instruction counts are the same
on every run of the same binary on any x86 CPU with the kernel path asked for (valgrind has no
AVX-512: use avx2 or scalar).
"""
import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile

MULTIPLIES = re.compile(r"^v?(pmaddwd|pmaddubsw|pdpbusds?|pdpwssds?|fmadd\w*|fnmadd\w*)\b")
GEMM_FUNCTION = re.compile(r"gemm|Int8Tiles|FloatGemm", re.IGNORECASE)


def parse_callgrind(path):
    """{(object, function): {address: self Ir}} from a callgrind profile with --dump-instr=yes
    (positions "instr line"; call lines' costs are inclusive and not counted)."""
    names = {"ob": {}, "fn": {}, "fl": {}}
    costs = collections.defaultdict(lambda: collections.defaultdict(int))
    obj = fn = None
    address = 0
    skip_next_cost = False
    positions = 1
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            if line.startswith("positions:"):
                positions = len(line.split()[1:])
                continue
            m = re.match(r"^(ob|fn|fl|fi|fe|cob|cfn|cfi|cfl)=\((\d+)\)(?: (.*))?$", line)
            if m:
                kind, ident, name = m.groups()
                table = {"cob": "ob", "cfn": "fn", "cfi": "fl", "cfl": "fl", "fi": "fl", "fe": "fl"}.get(kind, kind)
                if name is not None:
                    names[table][ident] = name
                if kind == "ob":
                    obj = names["ob"][ident]
                elif kind == "fn":
                    fn = names["fn"][ident]
                continue
            if line.startswith("calls="):
                skip_next_cost = True
                continue
            if not (line[0] in "0123456789+-*" or line.startswith("0x")):
                continue
            fields = line.split()
            token = fields[0]
            if token.startswith("0x"):
                address = int(token, 16)
            elif token[0] in "+-":
                address += int(token, 0) if token[1:2] != "0" else int(token, 16)
            elif token != "*":
                address = int(token, 0)
            if skip_next_cost:
                skip_next_cost = False
                continue
            values = fields[positions:]
            if values:
                costs[(obj, fn)][address] += int(values[0])
    return costs


def run_callgrind(args, runs, out):
    cmd = ["valgrind", "--tool=callgrind", "--dump-instr=yes", f"--callgrind-out-file={out}",
           os.path.join(args.build, "tools", "ple-bench"), args.model, "--batch", str(args.batch), "--kernels",
           args.kernels, "--mode", args.mode, "--runs", str(runs), "--warmup", "0", "--no-profile"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"x86_callgrind_split: {' '.join(cmd)} failed:\n{result.stderr[-2000:]}")


def symbols(binary):
    """[(start, size, demangled name)] of the binary's functions."""
    out = subprocess.run(["nm", "-C", "-S", "--defined-only", binary], capture_output=True, text=True, check=True).stdout
    found = []
    for line in out.splitlines():
        m = re.match(r"^([0-9a-f]+) ([0-9a-f]+) [tTwW] (.*)$", line)
        if m:
            found.append((int(m.group(1), 16), int(m.group(2), 16), m.group(3)))
    return found


def inner_multiply_loops(binary, start, size):
    """Address ranges [first, last] of the innermost loops holding a multiply instruction."""
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", f"--start-address={start:#x}",
                          f"--stop-address={start + size:#x}", binary], capture_output=True, text=True, check=True).stdout
    instructions = []
    for line in out.splitlines():
        m = re.match(r"^\s+([0-9a-f]+):\s+(\S+)\s*(.*)$", line)
        if m:
            instructions.append((int(m.group(1), 16), m.group(2), m.group(3)))
    edges = []
    for addr, op, operands in instructions:
        m = re.match(r"^([0-9a-f]+) <", operands)
        if op.startswith("j") and m and start <= int(m.group(1), 16) <= addr:
            edges.append((int(m.group(1), 16), addr))
    innermost = [(a, b) for a, b in edges if not any(a <= c and d <= b and (c, d) != (a, b) for c, d in edges)]
    return [(a, b) for a, b in innermost
            if any(a <= addr <= b and MULTIPLIES.match(op) for addr, op, _ in instructions)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default="build")
    parser.add_argument("--model", default="build/bench/models/bench-m-dense-int8.ple")
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--kernels", default="avx2")
    parser.add_argument("--mode", default="per_row")
    parser.add_argument("--runs", default="2,6", help="the two numbers of timed runs whose difference is counted")
    args = parser.parse_args()
    low, high = (int(x) for x in args.runs.split(","))
    binary = os.path.realpath(os.path.join(args.build, "tools", "ple-bench"))
    with tempfile.TemporaryDirectory() as tmp:
        profiles = []
        for runs in (low, high):
            out = os.path.join(tmp, f"callgrind.{runs}")
            print(f"x86_callgrind_split: callgrind, {runs} runs of batch {args.batch} ...", file=sys.stderr)
            run_callgrind(args, runs, out)
            profiles.append(parse_callgrind(out))
    per_function = collections.Counter()
    per_address = collections.defaultdict(collections.Counter)
    for sign, profile in ((-1, profiles[0]), (1, profiles[1])):
        for (obj, fn), addresses in profile.items():
            if obj is None or os.path.realpath(obj) != binary:
                per_function[fn] += sign * sum(addresses.values())  # other objects: libc, libm, ld.so
                continue
            for address, ir in addresses.items():
                per_address[fn][address] += sign * ir
    # A PIE is loaded at an offset: the lowest address executed in a function is its entry.
    table = symbols(binary)
    by_name = collections.defaultdict(list)
    for start, size, name in table:
        by_name[name].append((start, size))
    inner = 0
    gemm_other = collections.Counter()
    for fn, addresses in per_address.items():
        total = sum(addresses.values())
        if fn and GEMM_FUNCTION.search(fn) and fn in by_name and any(addresses.values()):
            start, size = by_name[fn][0]
            offset = min(a for a, ir in addresses.items() if ir) - start
            loops = inner_multiply_loops(binary, start, size)
            in_loops = sum(ir for a, ir in addresses.items() if any(lo <= a - offset <= hi for lo, hi in loops))
            inner += in_loops
            gemm_other[fn] += total - in_loops
            per_function[fn + "  [outside its inner loops]"] += total - in_loops
        else:
            per_function[fn] += total
    candidates = (high - low) * args.batch
    outside = sum(per_function.values())
    print(f"{args.model}, batch {args.batch}, --kernels {args.kernels}, --mode {args.mode}: "
          f"instructions a candidate, from {high - low} runs")
    print(f"  GEMM inner loops:  {inner / candidates:12.0f}")
    print(f"  everything else:   {outside / candidates:12.0f}  ({100 * outside / (inner + outside):.1f} % of "
          f"{(inner + outside) / candidates:.0f})")
    print("  everything else, by function (top 15):")
    for fn, ir in sorted(per_function.items(), key=lambda kv: -kv[1])[:15]:
        print(f"    {ir / candidates:10.0f}  {fn[:150]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
