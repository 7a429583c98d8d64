#!/usr/bin/env python3
"""The i8mm weight layout decision (docs/kernels.md, "The i8mm weight layout"), by llvm-mca 19.

  python3 bench/i8mm_layouts.py

One step of a 4-row x 16-channel int8 GEMM over 16 inputs (1,024 multiply-adds), written three
ways, each as a loop for llvm-mca on the cores whose models LLVM 19 has:
  sdot      today's neondot schedule on the file's layout ([16 channels][4 inputs] blocks):
            64 lane-indexed SDOTs, 16 weight loads, 4 row loads, 4 EORs (uint8 to int8);
  zip       USMMLA on the file's layout, each pair of 4-input blocks zipped in registers into
            [2 channels][8 inputs] (16 ZIP1/ZIP2 a step) and the rows paired (4 ZIPs);
  paired    USMMLA on weights already [2 channels][8 inputs] (the paired layout): 16 loads,
            the rows paired (4 ZIPs), 32 USMMLAs.
Prints multiply-adds per cycle. Static predictions (no caches): they compare schedules, a phone
measures. The A55 and the N1 have no i8mm; their models accept the instruction and are shown
only for the SDOT column's sake.
"""
import re
import subprocess
import sys

MCA = "llvm-mca-19"
CORES = ["cortex-a510", "neoverse-n2", "neoverse-v1", "apple-m1"]


def cycles(core, text, iterations=300):
    done = subprocess.run([MCA, "-mtriple=aarch64-linux-gnu", f"-mcpu={core}", "-mattr=+neon,+dotprod,+i8mm",
                           f"-iterations={iterations}"], input=text, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(done.stderr)
    return int(re.search(r"Total Cycles:\s+(\d+)", done.stdout).group(1)) / iterations


def loop(body):
    return "loop_top:\n" + "\n".join(body + ["add x10, x10, #256", "subs x11, x11, #1", "b.ne loop_top"]) + "\n"


def sdot_step():
    body = [f"ldr q{r}, [x{r}], #16" for r in range(4)] + [f"eor v{r}.16b, v{r}.16b, v8.16b" for r in range(4)]
    for b in range(4):
        for j in range(4):
            body.append(f"ldr q{4 + j}, [x10, #{b * 64 + 16 * j}]")
            body += [f"sdot v{16 + 4 * r + j}.4s, v{4 + j}.16b, v{r}.4b[{b}]" for r in range(4)]
    return loop(body)


def usmmla_step(zip_weights):
    body = [f"ldr q{r}, [x{r}], #16" for r in range(4)]
    for p in range(2):  # row pairs: inputs 0..7 in v8/v10, 8..15 in v9/v11
        body += [f"zip1 v{8 + 2 * p}.2d, v{2 * p}.2d, v{2 * p + 1}.2d", f"zip2 v{9 + 2 * p}.2d, v{2 * p}.2d, v{2 * p + 1}.2d"]
    for h in range(2):
        for j in range(4):
            if zip_weights:  # blocks 2h and 2h+1, channels 4j..4j+3, zipped into two channel pairs
                body += [f"ldr q4, [x10, #{2 * h * 64 + 16 * j}]", f"ldr q5, [x10, #{(2 * h + 1) * 64 + 16 * j}]",
                         "zip1 v6.4s, v4.4s, v5.4s", "zip2 v7.4s, v4.4s, v5.4s"]
            else:
                body.append(f"ldp q6, q7, [x10, #{h * 128 + 32 * j}]")
            for z, reg in ((0, 6), (1, 7)):
                body += [f"usmmla v{16 + 8 * p + 2 * j + z}.4s, v{8 + 2 * p + h}.16b, v{reg}.16b" for p in range(2)]
    return loop(body)


def main():
    steps = {"sdot (file layout)": sdot_step(), "zip (file layout)": usmmla_step(True),
             "paired layout": usmmla_step(False)}
    print("| schedule | " + " | ".join(CORES) + " |")
    print("| --- | " + " | ".join("---:" for _ in CORES) + " |")
    base = {core: 1024 / cycles(core, steps["sdot (file layout)"]) for core in CORES}
    for name, text in steps.items():
        cells = []
        for core in CORES:
            rate = 1024 / cycles(core, text)
            cells.append(f"{rate:.1f} ({rate / base[core]:.2f}x)")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
