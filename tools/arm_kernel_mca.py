#!/usr/bin/env python3
"""ARM kernel speed by simulation: llvm-mca (LLVM 19) on the inner loops of the built kernels.

  tools/arm_kernel_mca.py [--aarch64 BUILD] [--armv7 BUILD] [--check]

For each ARM kernel symbol in the cross-compiled objects (BUILD/runtime/.../kernels/*.cc.o),
the inner loop is taken from the disassembly (llvm-objdump): the innermost loops are the
ranges closed by a backward branch with no other backward branch inside, and the kernel's
main loop is the innermost loop with the most multiply-accumulate instructions (for a GEMM,
its full row block). Nothing is hand-written: a change to a kernel changes what is measured.

Each core's peak is computed here, not quoted: llvm-mca's throughput for a loop of only the
loop's multiply-accumulate instruction (same opcode and arrangement) with 24 independent
accumulators. Per loop and core it prints the predicted cycles per iteration, multiply-adds
per cycle, the percentage of that peak, and what llvm-mca's bottleneck analysis names.

The numbers are predictions of a static model (no caches, no branch mispredictions, perfect
prefetch), identical on every run: they rank kernels and catch regressions; a phone measures
(docs/ple-bench.md). --check exits 1 when a GEMM loop is below its bar (BARS).
"""
import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile

OBJDUMP = os.environ.get("LLVM_OBJDUMP", "/usr/lib/llvm-19/bin/llvm-objdump")
NM = os.environ.get("LLVM_NM", "/usr/lib/llvm-19/bin/llvm-nm")
MCA = os.environ.get("LLVM_MCA", "llvm-mca-19")

# Core models with a real scheduling model in LLVM 19 (LLVM 14 maps most ARM cores to a
# generic one: do not use it). armv7: Cortex-A57 in AArch32, the one NEON model of the ARM
# backend that describes its pipelines.
CORES = {
    "aarch64": ["cortex-a55", "cortex-a510", "neoverse-n1", "neoverse-n2", "neoverse-v1", "apple-m1"],
    "armv7": ["cortex-a57"],
}
TRIPLES = {"aarch64": "aarch64-linux-gnu", "armv7": "thumbv7a-linux-gnueabihf"}  # armv7: Thumb-2 code
MATTR = {"aarch64": "+neon,+dotprod,+i8mm", "armv7": "+neon,+vfp4"}

# (object, symbol regex, kernel name, is a GEMM, under the bar: the int8 and float32 GEMMs)
KERNELS = {
    "aarch64": [
        # The i8mm GEMM's row blocks run in PairSums<P> (its loops; P = 2: 4 rows), their epilogue
        # in StoreRows (EPILOGUES).
        ("neoni8mm.cc.o", r"PairSums<2>\(", "int8 GEMM (neoni8mm)", True, True),
        ("neondot.cc.o", r"qu8s8_gemm__neondot\(", "int8 GEMM (neondot)", True, True),
        ("neon.cc.o", r"qu8s8_gemm__neon\(", "int8 GEMM (neon)", True, True),
        ("neon.cc.o", r"FloatGemm<float,", "f32 GEMM (neon)", True, True),
        ("neon.cc.o", r"FloatGemm<unsigned short,", "f16 GEMM (neon)", True, False),
        ("neon.cc.o", r"f32_qu8_quantize__neon\(", "quantization (neon)", False, False),
        ("neon.cc.o", r"f32_gate_softmax_sum__neon\(", "gate softmax-sum (neon)", False, False),
        # The feature layer (C++ the compiler vectorizes): its int8 embedding row loops.
        (os.path.join("..", "run", "feature_layer.cc.o"), r"AssembleFeature\(", "feature layer", False, False),
    ],
    "armv7": [
        ("neon.cc.o", r"qu8s8_gemm__neon\(", "int8 GEMM (armv7 neon)", True, True),
        ("neon.cc.o", r"FloatGemm<float,|f32_gemm__neon\(", "f32 GEMM (armv7 neon)", True, True),
        ("neon.cc.o", r"FloatGemm<unsigned short,|f16_gemm__neon\(", "f16 GEMM (armv7 neon)", True, False),
        ("neon.cc.o", r"f32_qu8_quantize__neon\(", "quantization (armv7 neon)", False, False),
        ("neon.cc.o", r"f32_gate_softmax_sum__neon\(", "gate softmax-sum (armv7 neon)", False, False),
    ],
}

# GEMMs whose epilogue is a function of its own (object, symbol): its row loop, branches left
# out, per float stored (the row blocks' 16 stores of int32 sums before it are not counted).
EPILOGUES = {"int8 GEMM (neoni8mm)": ("neoni8mm.cc.o", r"StoreRows\(")}

# Multiply-accumulate opcodes and the multiply-adds one instruction does, by arrangement.
MAC_LANES = {".4s": 4, ".2s": 2, ".8h": 8, ".4h": 4, ".2d": 2}
MAC_OPCODES = ("sdot", "udot", "usdot", "smmla", "ummla", "usmmla", "fmla", "mla", "smlal", "smlal2", "umlal",
               "umlal2", "vmla.f32", "vfma.f32", "vmlal.s16", "vmlal.u16", "vmla.i32")

# The GEMM loops' bar: % of the computed peak, per (kernel, core); a loop below it fails
# --check. Where a loop cannot reach the default, the exception says why.
DEFAULT_BAR = 85.0
BARS = {
    ("int8 GEMM (neondot)", "cortex-a55"): (
        60.0, "in the A55 model a 128-bit load never issues beside a 128-bit SDOT (16 SDOTs take 16 cycles, "
              "20 with 4 LDR Q), so a 4 x 16 step's 64 SDOTs, 20 loads and 4 EORs need 88 cycles: 73 % at best"),
    ("int8 GEMM (neondot)", "cortex-a510"): (
        45.0, "in the A510 model two SDOTs issue a cycle but each 128-bit load takes a cycle of its own (16 SDOTs "
              "take 8 cycles, 12 with 4 LDR Q): a step's 32 SDOT cycles and 20 load cycles, 62 % at best"),
    ("f32 GEMM (neon)", "cortex-a55"): (
        55.0, "in the A55 model a 128-bit load never issues beside a 128-bit FMLA (16 FMLAs take 8 cycles, 10 "
              "with 4 LDR Q), so a 4 x 16 step's 64 FMLAs and 20 loads need 52 cycles: 62 % at best"),
    ("f32 GEMM (neon)", "cortex-a510"): (
        75.0, "in the A510 model each column group's load takes an issue slot of its own beside the two FMLAs a "
              "cycle (the timeline: 4 FMLAs and a load every 2.5 cycles), 80 % at best"),
    ("int8 GEMM (neoni8mm)", "cortex-a55"): (0.0, "never runs there: the A55 has no i8mm"),
    ("int8 GEMM (neoni8mm)", "neoverse-n1"): (0.0, "never runs there: the N1 has no i8mm"),
    ("int8 GEMM (neoni8mm)", "cortex-a510"): (
        38.0, "in the A510 model two USMMLAs issue a cycle but each 128-bit load takes a cycle of its own: a step's "
              "32 USMMLAs (16 cycles), 4 ZIPs (2) and 20 loads (20), 42 % at best"),
    ("int8 GEMM (neon)", "cortex-a55"): (
        0.0, "never runs there: a core with the dot product (every A55 and A510) takes the neondot path"),
    ("int8 GEMM (neon)", "cortex-a510"): (
        0.0, "never runs there: a core with the dot product (every A55 and A510) takes the neondot path"),
}


def run(cmd, stdin=None):
    done = subprocess.run(cmd, input=stdin, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"arm_kernel_mca: {' '.join(cmd)} failed:\n{done.stderr}\ninput:\n{stdin or ''}")
    return done.stdout


def macs_of(opcode, operands):
    """Multiply-adds of one instruction (0 when it is not a multiply-accumulate)."""
    if opcode not in MAC_OPCODES:
        return 0
    if opcode in ("sdot", "udot", "usdot"):
        return 16 if ".4s" in operands.split(",")[0] else 8
    if opcode in ("smmla", "ummla", "usmmla"):
        return 32
    if opcode.startswith("v"):  # armv7: q registers hold 4 lanes, d registers 2
        first = operands.split(",")[0].strip()
        lanes = 4 if first.startswith("q") else 2
        return lanes
    first = operands.split(",")[0]
    for arrangement, lanes in MAC_LANES.items():
        if first.endswith(arrangement):
            return lanes
    return 1


def symbols(obj):
    """(address, size, demangled name) of every function in the object."""
    out = []
    for line in run([NM, "-C", "-S", "--defined-only", obj]).splitlines():
        m = re.match(r"([0-9a-f]+) ([0-9a-f]+) [tT] (.*)", line)
        if m:
            out.append((int(m.group(1), 16), int(m.group(2), 16), m.group(3)))
    return out


def disassemble(obj, start, size):
    """[(address, opcode, operands)] of [start, start + size)."""
    text = run([OBJDUMP, "-d", "--no-show-raw-insn", "--print-imm-hex",
                f"--start-address={start:#x}", f"--stop-address={start + size:#x}", obj])
    instructions = []
    for line in text.splitlines():
        m = re.match(r"\s*([0-9a-f]+):\s+(\S+)\s*(.*)", line)
        if m and not m.group(2).startswith("<"):
            operands = re.sub(r"\s*//.*$|\s*@.*$", "", m.group(3)).strip()
            instructions.append((int(m.group(1), 16), m.group(2), operands))
    return instructions


def function_instructions(obj, pattern):
    """The instructions of the largest function of `obj` whose demangled name matches `pattern`."""
    found = [s for s in symbols(obj) if re.search(pattern, s[2])]
    if not found:
        sys.exit(f"arm_kernel_mca: no symbol matching {pattern!r} in {obj}")
    start, size, _ = max(found, key=lambda s: s[1])
    return disassemble(obj, start, size)


BRANCH = re.compile(r"^(b(\.\w+)?|cbn?z|tbn?z|b(ne|eq|lo|hs|hi|ls|lt|le|gt|ge|mi|pl|cc|cs)?(\.[wn])?)$")


def back_edges(instructions):
    """(first index, last index) of every loop closed by a backward branch."""
    index = {addr: i for i, (addr, _, _) in enumerate(instructions)}
    edges = []
    for i, (addr, opcode, operands) in enumerate(instructions):
        m = re.search(r"(?:^|[ ,])(?:0x)?([0-9a-f]+) <", operands) if BRANCH.match(opcode) else None
        if m and int(m.group(1), 16) <= addr and int(m.group(1), 16) in index:
            edges.append((index[int(m.group(1), 16)], i))
    return edges


def inner_loops(instructions):
    """The innermost loops: (first index, last index) of ranges closed by a backward branch
    with no other backward branch strictly inside."""
    edges = back_edges(instructions)
    innermost = [(a, b) for a, b in edges if not any(a <= c < b and (c, d) != (a, b) and d < b for c, d in edges)]
    # A SIMD inner loop is straight-line code but for exits: no call or return, and no branch
    # before its back edge that lands inside it (an if inside the loop).
    first_addr = {i: instructions[i][0] for i in range(len(instructions))}

    def lands_inside(i, a, b):
        m = re.search(r"(?:^|[ ,])(?:0x)?([0-9a-f]+) <", instructions[i][2])
        return m is None or first_addr[a] <= int(m.group(1), 16) <= first_addr[b]

    return [(a, b) for a, b in innermost
            if not any(op in ("bl", "blr", "br", "ret") or (BRANCH.match(op) and lands_inside(i, a, b))
                       for i, (_, op, _) in enumerate(instructions[a:b], start=a))]


def is_simd(operands):
    return re.search(r"\bv\d+\.|\b[qd]\d+\b", operands) is not None


def transfer_bytes(opcode, operands, stores):
    """Bytes one aarch64 load (stores=False) or store (True) moves to or from SIMD registers; 0 otherwise."""
    names = ("str", "stur", "stp", "st1") if stores else ("ldr", "ldur", "ldp", "ld1")
    if opcode not in names:
        return 0
    if opcode in ("ld1", "st1"):
        registers = re.findall(r"v\d+\.(\d+)([bhsd])", operands.split("}")[0])
        size = {"b": 1, "h": 2, "s": 4, "d": 8}
        return sum(int(n) * size[t] for n, t in registers)
    first = re.match(r"\s*([qdsh])\d+", operands)
    if not first:
        return 0
    width = {"q": 16, "d": 8, "s": 4, "h": 2}[first.group(1)]
    return width * (2 if opcode in ("ldp", "stp") else 1)


def loop_text(instructions, first, last):
    """The loop as llvm-mca input: branch targets become a label at the loop's top."""
    lines = []
    for addr, opcode, operands in instructions[first:last + 1]:
        if BRANCH.match(opcode):
            operands = re.sub(r"(?:0x)?[0-9a-f]+ <[^>]*>", "loop_top", operands)
        lines.append(f"  {opcode} {operands}".rstrip())
    return "loop_top:\n" + "\n".join(lines) + "\n"


def mca(arch, core, text, iterations=200):
    """(cycles per iteration, bottleneck) predicted by llvm-mca."""
    out = run([MCA, f"-mtriple={TRIPLES[arch]}", f"-mcpu={core}", f"-mattr={MATTR[arch]}",
               f"-iterations={iterations}", "-bottleneck-analysis"], stdin=text)
    cycles = int(re.search(r"Total Cycles:\s+(\d+)", out).group(1))
    bottleneck = "none reported"
    m = re.search(r"Cycles with backend pressure increase \[ ([\d.]+)% \]", out)
    if m and float(m.group(1)) > 1.0:
        causes = re.findall(r"- (Resource Pressure|Data Dependencies|Register Dependencies|Memory Dependencies)\s+\[ ([\d.]+)% \]",
                            out)
        causes = [(name, float(p)) for name, p in causes if float(p) > 0.5]
        resources = re.findall(r"- (\S+)\s+\[ ([\d.]+)% \]", out.split("Throughput Bottlenecks:")[-1].split("Critical sequence")[0])
        named = sorted(((float(p), r) for r, p in resources if r not in ("Resource", "Data", "Register", "Memory")),
                       reverse=True)
        parts = [f"{name.lower()} {p:.0f}%" for name, p in causes]
        if named:
            parts.append("busiest " + named[0][1])
        bottleneck = ", ".join(parts) if parts else f"backend pressure {m.group(1)}%"
    return cycles / iterations, bottleneck


def peak_text(arch, opcode, operands):
    """24 independent copies of the multiply-accumulate `opcode`, the arrangement of `operands`."""
    regs = [r.strip() for r in operands.split(",")]
    lines = []
    for i in range(24):
        if arch == "armv7":  # accumulators q2-q15; sources in d0-d3 (a scalar operand must be below d8)
            dst = re.sub(r"^([qd])\d+", lambda m: f"q{2 + i % 14}" if m.group(1) == "q" else f"d{4 + i % 28}", regs[0])
            srcs = []
            for k, r in enumerate(regs[1:]):
                if "[" in r:
                    srcs.append("d1[0]")
                else:
                    srcs.append(re.sub(r"^([qd])\d+", lambda m: f"{m.group(1)}{k % 2}", r))
        else:  # sources v14, v15 (an indexed element's register must be below v16)
            dst = re.sub(r"^v\d+", f"v{i if i < 14 else i + 2}", regs[0])
            srcs = [re.sub(r"^v\d+", "v" + str(14 + k % 2), r) for k, r in enumerate(regs[1:])]
        lines.append(f"  {opcode} {', '.join([dst] + srcs)}")
    return "\n".join(lines) + "\n", 24


Row = collections.namedtuple("Row", "arch kernel barred core cycles macs_per_iter peak_macs_per_cycle bottleneck loop_size")
# The rest of a run, per core: cycles per unit of work, from the same simulation. Units: a float
# quantized (the quantizer's loops: cycles / floats loaded an iteration, both loops added), a
# GEMM output written (the row block's code outside its main loop: cycles / floats stored).
Rest = collections.namedtuple("Rest", "kernel core cycles_per_unit unit")


def epilogue_text(instructions, first, last):
    """The straight-line code of the smallest loop around [first, last], less that loop and
    every branch: a GEMM's per row-block work outside its main loop (both sides of any tail
    branch counted: an upper bound). None when nothing encloses the loop."""
    around = [(a, b) for a, b in back_edges(instructions) if a <= first and last <= b and (a, b) != (first, last)]
    if not around:
        return None
    a, b = min(around, key=lambda e: e[1] - e[0])
    body = [ins for i, ins in enumerate(instructions[a:b + 1], start=a)
            if not first <= i <= last and not BRANCH.match(ins[1]) and ins[1] not in ("bl", "blr", "br", "ret")]
    return body


def analyse(arch, build, rest=None):
    """Rows of the loop table; with a list as `rest`, appends the run's other costs to it."""
    rows = []
    objdir = os.path.join(build, "runtime", "CMakeFiles", "ple_runtime_objects.dir", "src", "kernels")
    for obj_name, pattern, kernel, gemm, barred in KERNELS[arch]:
        obj = os.path.join(objdir, obj_name)
        if not os.path.exists(obj):
            sys.exit(f"arm_kernel_mca: {obj} missing: build {build} first")
        instructions = function_instructions(obj, pattern)
        loops = inner_loops(instructions)
        if not loops:
            sys.exit(f"arm_kernel_mca: no loop in {kernel}")

        def loop_macs(loop):
            return sum(macs_of(op, args) for _, op, args in instructions[loop[0]:loop[1] + 1])

        def loop_simd(loop):
            return sum(is_simd(args) for _, _, args in instructions[loop[0]:loop[1] + 1])

        # A GEMM: the loop with the most multiply-adds (the full row block). Other kernels: their
        # two loops with the most SIMD instructions (e.g. the quantizer's range and its rounding).
        ranked = sorted(loops, key=lambda l: (loop_macs(l), loop_simd(l)), reverse=True)
        if rest is not None and arch == "aarch64":
            if kernel in EPILOGUES:
                rest.extend(epilogue_function_costs(arch, kernel, os.path.join(objdir, EPILOGUES[kernel][0]),
                                                    EPILOGUES[kernel][1]))
            else:
                rest.extend(rest_costs(arch, kernel, gemm, instructions, ranked))
        for n, (first, last) in enumerate(ranked[:1 if gemm else 2]):
            macs = loop_macs((first, last))
            if gemm and macs < 32:  # a full row block does 2 rows x 16 columns at least
                sys.exit(f"arm_kernel_mca: {kernel}: the loop found does {macs} multiply-adds an iteration, not a "
                         "GEMM's row block: the loop extraction needs a look")
            text = loop_text(instructions, first, last)
            mac_ops = collections.Counter((op, args) for _, op, args in instructions[first:last + 1]
                                          if macs_of(op, args))
            name = kernel if n == 0 else kernel + ", second loop"
            for core in CORES[arch]:
                cycles, bottleneck = mca(arch, core, text)
                peak = 0.0
                if mac_ops:
                    (opcode, operands), _ = mac_ops.most_common(1)[0]
                    ptext, count = peak_text(arch, opcode, operands)
                    pcycles, _ = mca(arch, core, ptext)
                    peak = count * macs_of(opcode, operands) / pcycles
                rows.append(Row(arch, name, barred, core, cycles, macs, peak, bottleneck, last - first + 1))
    return rows


def rest_costs(arch, kernel, gemm, instructions, ranked):
    """Rest rows of one kernel: a GEMM's epilogue per output, the quantizer's cost per float, the
    gate's per product of a weight and an expert's value."""
    out = []
    if gemm:
        body = epilogue_text(instructions, *ranked[0])
        stored = sum(transfer_bytes(op, args, True) for _, op, args in body or [])
        if body and stored:
            text = "".join(f"  {op} {args}\n" for _, op, args in body)
            for core in CORES[arch]:
                cycles, _ = mca(arch, core, text)
                out.append(Rest(kernel, core, cycles / (stored / 4), "output"))
    elif kernel.startswith("gate"):
        # The weighted sum's loop: one expert's products and sums for 4 columns an iteration
        # (fmul then fadd, as the scalar reference: no multiply-accumulate instruction).
        def fmul_lanes(loop):
            return sum(MAC_LANES.get("." + args.split(",")[0].split(".")[-1], 0)
                       for _, op, args in instructions[loop[0]:loop[1] + 1] if op == "fmul")
        first, last = max(ranked, key=fmul_lanes)
        lanes = fmul_lanes((first, last))
        if lanes:
            for core in CORES[arch]:
                cycles, _ = mca(arch, core, loop_text(instructions, first, last))
                out.append(Rest(kernel, core, cycles / lanes, "product"))
    elif kernel.startswith("feature layer"):
        # An int8 embedding row written (a sparse feature's lookup): the vectorized loop that
        # converts (scvtf) and scales, without adding to what is there; cycles per float stored.
        # The code around it (hashing the id, finding the row and its scale) is not simulated:
        # its enclosing loop holds every table type's path and the errors', hundreds of
        # instructions a lookup runs a few dozen of; LOOKUP_MISS_NS stands for it.
        def converts(loop):
            ops = [op for _, op, args in instructions[loop[0]:loop[1] + 1] if is_simd(args)]
            return ops.count("scvtf") if "fadd" not in ops else 0
        first, last = max(ranked, key=converts)
        stored = sum(transfer_bytes(op, args, True) for _, op, args in instructions[first:last + 1])
        if converts((first, last)) and stored:
            for core in CORES[arch]:
                cycles, _ = mca(arch, core, loop_text(instructions, first, last))
                out.append(Rest(kernel, core, cycles / (stored / 4), "embedding float"))
    elif kernel.startswith("quantization"):
        per_float = collections.Counter()
        for first, last in ranked[:2]:
            loaded = sum(transfer_bytes(op, args, False) for _, op, args in instructions[first:last + 1])
            if not loaded:
                continue
            for core in CORES[arch]:
                cycles, _ = mca(arch, core, loop_text(instructions, first, last))
                per_float[core] += cycles / (loaded / 4)
        out += [Rest(kernel, core, c, "float") for core, c in per_float.items()]
    return out


def epilogue_function_costs(arch, kernel, obj, pattern):
    """Rest rows of a GEMM whose epilogue is its own function: the function's outermost loop (one
    row), less its branches, in cycles per float stored."""
    instructions = function_instructions(obj, pattern)
    edges = back_edges(instructions)
    if not edges:
        sys.exit(f"arm_kernel_mca: no loop in {kernel}'s epilogue")
    first, last = max(edges, key=lambda e: e[1] - e[0])
    body = [ins for ins in instructions[first:last + 1]
            if not BRANCH.match(ins[1]) and ins[1] not in ("bl", "blr", "br", "ret")]
    stored = sum(transfer_bytes(op, args, True) for _, op, args in body)
    if not stored:
        return []
    text = "".join(f"  {op} {args}\n" for _, op, args in body)
    return [Rest(kernel, core, mca(arch, core, text)[0] / (stored / 4), "output") for core in CORES[arch]]


def percent(row):
    return 100.0 * row.macs_per_iter / row.cycles / row.peak_macs_per_cycle if row.peak_macs_per_cycle else None


# Whole-model estimate: assumed clocks (GHz) and weight bandwidth (GB/s) per core class.
CLOCK_GHZ = {"cortex-a55": 1.8, "cortex-a510": 2.0, "neoverse-n1": 2.6, "neoverse-n2": 2.8, "neoverse-v1": 3.0,
             "apple-m1": 3.2}
BANDWIDTH_GBS = {"cortex-a55": 12.0, "cortex-a510": 12.0, "neoverse-n1": 20.0, "neoverse-n2": 20.0,
                 "neoverse-v1": 25.0, "apple-m1": 40.0}
LOOP_OF_DTYPE = {"I8": "int8 GEMM (neondot)", "F32": "f32 GEMM (neon)", "F16": "f16 GEMM (neon)"}
# The cores of these models that have i8mm (Armv8.6 FEAT_I8MM), where AUTO takes neoni8mm: their
# estimates are given for both int8 loops.
I8MM_CORES = ("cortex-a510", "neoverse-n2", "neoverse-v1")
I8MM_LOOP = "int8 GEMM (neoni8mm)"
# Epilogue costs are looked up under the same kernel names (Rest rows).


# A feature lookup's row, assumed a miss to memory every time, none overlapped: an upper bound
# (a phone's caches keep the hot rows of small tables; llvm-mca models no cache).
LOOKUP_MISS_NS = 100.0


def model_listing(inspect, model):
    """From ple-inspect's listing: the packed groups [(dtype, inputs, request inputs, columns,
    weight bytes)], the gate multiply-adds per candidate row (a gate's weighted sum reads every
    expert it weighs, each of its expert's width), and the int8 embedding lookups as
    {"candidate"|"request": (lookups, floats)} (a sequence counted at its max_length)."""
    groups, gate_macs, widths, tables = [], 0, {}, {}
    lookups = {"candidate": [0, 0], "request": [0, 0]}
    for line in run([inspect, model]).splitlines():
        m = re.match(r"\s+group \d+\s+(\w+)\s+\d+ layers?, (\d+) inputs(?: \((\d+) request-scope\))? -> (\d+) columns, "
                     r"(\d+) bytes", line)
        if m:
            groups.append((m.group(1), int(m.group(2)), int(m.group(3) or 0), int(m.group(4)), int(m.group(5))))
        if re.match(r"level \d+:", line):
            widths = {}
        m = re.match(r"\s+expert (\d+)\s.*\[\d+ -> (?:.* -> )?(\d+) [^\]]*\]$", line)
        if m:
            widths[int(m.group(1))] = int(m.group(2))
        m = re.match(r"\s+gate\s.*weighs experts \[([\d,]+)\]", line)
        if m:
            gate_macs += sum(widths[int(e)] for e in m.group(1).split(","))
        m = re.match(r"\s+(\S+)\s+\d+ x (\d+) (\w+), \d+ bytes$", line)
        if m:
            tables[m.group(1)] = (int(m.group(2)), m.group(3))
        m = re.match(r"\s+\S+\s+(candidate|request)\s+(sparse|sequence)\s+table (\S+)(?: .*max_length (\d+))?", line)
        if m and tables.get(m.group(3), (0, ""))[1] == "I8":
            count = int(m.group(4)) if m.group(2) == "sequence" else 1
            lookups[m.group(1)][0] += count
            lookups[m.group(1)][1] += count * tables[m.group(3)][0]
    if not groups:
        sys.exit(f"arm_kernel_mca: ple-inspect lists no packed groups for {model}")
    return groups, gate_macs, lookups


def estimate(rows, rest, inspect, models, batches=(1, 50, 200)):
    """Per model, core and batch, summed over packed groups: the larger of the GEMM's compute
    (its multiply-adds at its loop's predicted rate: candidate columns for every row, the request
    columns once) and its weights' bandwidth (every weight byte streamed once a run); plus the
    rest of the run the simulation covers: the int8 groups' quantization (every input float of a
    row once, the request part once), every output's epilogue, the gates' weighted sums, and the
    feature layer's int8 embedding lookups (each candidate's, the request's once): the simulated
    row loop, plus LOOKUP_MISS_NS a lookup."""
    rate = {(r.kernel, r.core): r.macs_per_iter / r.cycles for r in rows if r.arch == "aarch64" and r.macs_per_iter}
    per = {(r.kernel, r.core): r.cycles_per_unit for r in rest}
    quantizer, gate, features = "quantization (neon)", "gate softmax-sum (neon)", "feature layer"
    print("\n| model | core (clock, bandwidth) | int8 path | " + " | ".join(f"batch {b}" for b in batches) + " |")
    print("| --- | --- | --- | " + " | ".join("---:" for _ in batches) + " |")
    for model in models:
        groups, gate_macs, lookups = model_listing(inspect, model)
        for core, int8_loop in [(c, loop) for c in CORES["aarch64"]
                                for loop in [LOOP_OF_DTYPE["I8"]] + ([I8MM_LOOP] if c in I8MM_CORES else [])]:
            loops = dict(LOOP_OF_DTYPE, I8=int8_loop)
            mhz = CLOCK_GHZ[core] * 1e3
            cells = []
            for batch in batches:
                gemm = other = 0.0
                bound = collections.Counter()
                for dtype, inputs, request, columns, weight_bytes in groups:
                    macs = batch * (inputs - request) * columns + request * columns
                    compute = macs / rate[(loops[dtype], core)] / mhz  # us
                    memory = weight_bytes / (BANDWIDTH_GBS[core] * 1e3)  # us
                    gemm += max(compute, memory)
                    bound["compute" if compute >= memory else "bandwidth"] += max(compute, memory)
                    if dtype == "I8":
                        other += (batch * (inputs - request) + request) * per[(quantizer, core)] / mhz
                    other += batch * columns * per.get((loops[dtype], core), 0.0) / mhz
                other += batch * gate_macs * per.get((gate, core), 0.0) / mhz
                for scope, times in (("candidate", batch), ("request", 1)):
                    count, floats = lookups[scope]
                    other += times * floats * per.get((features, core), 0.0) / mhz
                    other += times * count * LOOKUP_MISS_NS / 1e3
                total = gemm + other
                cells.append(f"{total:.0f} us ({bound.most_common(1)[0][0]}; rest {100 * other / total:.0f} %)")
            print(f"| {os.path.basename(model)} | {core} ({CLOCK_GHZ[core]} GHz, {BANDWIDTH_GBS[core]:.0f} GB/s) | "
                  f"{int8_loop.split('(')[1].rstrip(')')} | "
                  + " | ".join(cells) + " |")
    print("\nThe rest's unit costs (cycles): " + "; ".join(
        f"{r.kernel} on {r.core} {r.cycles_per_unit:.2f} per {r.unit}" for r in rest if r.core in ("cortex-a55", "neoverse-n1")))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aarch64", default="build-aarch64", help="aarch64 cross build directory")
    parser.add_argument("--armv7", default="build-armv7", help="armv7 cross build directory ('' to skip)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a GEMM loop is below its bar")
    parser.add_argument("--estimate", nargs="*", default=[], metavar="MODEL.ple",
                        help="also estimate these models' GEMM time per core at batch 1, 50, 200 (needs ple-inspect)")
    parser.add_argument("--inspect", default="build/tools/ple-inspect", help="ple-inspect, for --estimate")
    args = parser.parse_args()
    rest = []
    rows = analyse("aarch64", args.aarch64, rest)
    if args.armv7:
        rows += analyse("armv7", args.armv7)
    print("| kernel | core | loop instructions | cycles / iteration | multiply-adds / cycle | peak | % of peak | bottleneck (llvm-mca) |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |")
    failures = []
    for r in rows:
        p = percent(r)
        mpc = r.macs_per_iter / r.cycles if r.macs_per_iter else 0.0
        print(f"| {r.kernel} | {r.core} | {r.loop_size} | {r.cycles:.1f} | "
              f"{mpc:.1f} | {r.peak_macs_per_cycle:.1f} | {'-' if p is None else f'{p:.0f} %'} | {r.bottleneck} |")
        bar = BARS.get((r.kernel, r.core), (DEFAULT_BAR, ""))[0]
        checked = ("cortex-a55", "cortex-a510", "neoverse-n1", "neoverse-n2", "neoverse-v1")
        if r.barred and p is not None and r.core in checked and p < bar:
            failures.append(f"{r.kernel} on {r.core}: {p:.0f} % of peak, bar {bar:.0f} %")
    if args.estimate:
        estimate(rows, rest, args.inspect, args.estimate)
    lowered = [(k, c, bar, why) for (k, c), (bar, why) in BARS.items()]
    if lowered:
        print("\nBars below the default %.0f %%, and why:" % DEFAULT_BAR)
        for kernel, core, bar, why in lowered:
            print(f"- {kernel} on {core}: {bar:.0f} %: {why}.")
    if failures:
        print("\nbelow the bar:\n  " + "\n  ".join(failures), file=sys.stderr)
        if args.check:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
