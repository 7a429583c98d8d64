// The 4-row x 16-column step loop of the aarch64 GEMMs, as inline-assembly text: the int8
// dot-product GEMM (neondot.cc) and the float32 GEMM (neon.cc) run the same schedule with
// their own multiply-accumulate. Included by one kernel file each, after it defines:
//   PLE_A64_MAC(acc, w, x, lane)  one multiply-accumulate: acc += w x lane `lane` of x
//                                 (`sdot acc.4s, w.16b, x.4b[lane]`, `fmla acc.4s, w.4s, x.s[lane]`)
//   PLE_A64_PREPARE_X(x)          what a freshly loaded activation register v<x> needs ("" or an EOR)
// No include guard: the text is the including file's, with its own instruction.
//
// A step is four "k-blocks" of 64 bytes of weights (4 registers of 4 columns) against 16 bytes
// of each row's activations (one register a row, one 4-byte lane a k-block). Registers:
// accumulators v16-v31 (row r's columns 4j..4j+3 in v(16 + 4r + j)); activations v0-v3 or
// v12-v15 (the next step's load goes to the other set); a k-block's weights v4-v7 (columns
// 4j..4j+3 in v(4 + j)); the including file may use the others for its constants. Each weight
// register is reloaded for the next k-block right after its 4 multiply-accumulates, and the next
// step's activations load during this step, so an in-order core has every load's latency
// covered (tools/arm_kernel_mca.py measures the result). Loads use offsets from the step's
// weights, not write-backs, which would chain them. Operands the text names: %[a] (the 16
// accumulators in memory, loaded at the start and stored at the end), %[r0]..%[r3] (the rows,
// advanced 16 bytes a step), %[w] (the weights, advanced 256 bytes a step), %[n] (steps - 1).
// The last step reads nothing past the rows' and the weights' ends.

#define PLE_A64_COLUMNS(j, a0, a1, a2, a3, x0, x1, x2, x3, lane, after)                              \
  PLE_A64_MAC(a0, "v" j, x0, lane) PLE_A64_MAC(a1, "v" j, x1, lane) PLE_A64_MAC(a2, "v" j, x2, lane)  \
  PLE_A64_MAC(a3, "v" j, x3, lane) after
#define PLE_A64_LOAD_W(j, offset) "ldr q" j ", [%[w], #" offset "]\n"
// K-block `lane` of a step on activations x0..x3; after column group j: w_j, then e_j.
#define PLE_A64_BLOCK(x0, x1, x2, x3, lane, w4, w5, w6, w7, e0, e1, e2, e3)                     \
  PLE_A64_COLUMNS("4", "v16", "v20", "v24", "v28", x0, x1, x2, x3, lane, w4 e0)                  \
  PLE_A64_COLUMNS("5", "v17", "v21", "v25", "v29", x0, x1, x2, x3, lane, w5 e1)                  \
  PLE_A64_COLUMNS("6", "v18", "v22", "v26", "v30", x0, x1, x2, x3, lane, w6 e2)                  \
  PLE_A64_COLUMNS("7", "v19", "v23", "v27", "v31", x0, x1, x2, x3, lane, w7 e3)
// K-block `lane`, reloading the weights for k-block b1 (4: the next step's first).
#define PLE_A64_BLOCK_LOADING(x0, x1, x2, x3, lane, b1, e0, e1, e2, e3)                                  \
  PLE_A64_BLOCK(x0, x1, x2, x3, lane, PLE_A64_LOAD_W("4", b1 "*64+0"), PLE_A64_LOAD_W("5", b1 "*64+16"),   \
                PLE_A64_LOAD_W("6", b1 "*64+32"), PLE_A64_LOAD_W("7", b1 "*64+48"), e0, e1, e2, e3)
#define PLE_A64_LOAD_X(x, r) "ldr q" x ", [%[" r "]], #16\n"
// A step on activations v{c0..c3} that also loads the next one's into v{n0..n3}.
#define PLE_A64_STEP(c0, c1, c2, c3, n0, n1, n2, n3)                                                \
  PLE_A64_BLOCK_LOADING("v" c0, "v" c1, "v" c2, "v" c3, "0", "1", "", "", "", "")                     \
  PLE_A64_BLOCK_LOADING("v" c0, "v" c1, "v" c2, "v" c3, "1", "2", "", "", "", "")                     \
  PLE_A64_BLOCK_LOADING("v" c0, "v" c1, "v" c2, "v" c3, "2", "3", PLE_A64_LOAD_X(n0, "r0"),            \
                        PLE_A64_LOAD_X(n1, "r1"), PLE_A64_LOAD_X(n2, "r2"), PLE_A64_LOAD_X(n3, "r3"))  \
  PLE_A64_BLOCK_LOADING("v" c0, "v" c1, "v" c2, "v" c3, "3", "4", PLE_A64_PREPARE_X(n0),               \
                        PLE_A64_PREPARE_X(n1), PLE_A64_PREPARE_X(n2), PLE_A64_PREPARE_X(n3))           \
  "add %[w], %[w], #256\n"
// The last step: no loads after its last k-block.
#define PLE_A64_LAST_STEP(c0, c1, c2, c3)                                                            \
  PLE_A64_BLOCK_LOADING("v" c0, "v" c1, "v" c2, "v" c3, "0", "1", "", "", "", "")                     \
  PLE_A64_BLOCK_LOADING("v" c0, "v" c1, "v" c2, "v" c3, "1", "2", "", "", "", "")                     \
  PLE_A64_BLOCK_LOADING("v" c0, "v" c1, "v" c2, "v" c3, "2", "3", "", "", "", "")                     \
  PLE_A64_BLOCK("v" c0, "v" c1, "v" c2, "v" c3, "3", "", "", "", "", "", "", "", "")

// The whole loop: accumulators in, the first step's loads, pairs of steps alternating the
// activation sets, the last step, accumulators out.
#define PLE_A64_STEP_LOOP_4X16                                                                     \
  "ldp q16, q17, [%[a]]\n" "ldp q18, q19, [%[a], #32]\n" "ldp q20, q21, [%[a], #64]\n"             \
  "ldp q22, q23, [%[a], #96]\n" "ldp q24, q25, [%[a], #128]\n" "ldp q26, q27, [%[a], #160]\n"      \
  "ldp q28, q29, [%[a], #192]\n" "ldp q30, q31, [%[a], #224]\n"                                     \
  PLE_A64_LOAD_X("0", "r0") PLE_A64_LOAD_X("1", "r1") PLE_A64_LOAD_X("2", "r2") PLE_A64_LOAD_X("3", "r3") \
  PLE_A64_LOAD_W("4", "0") PLE_A64_LOAD_W("5", "16") PLE_A64_LOAD_W("6", "32") PLE_A64_LOAD_W("7", "48")  \
  PLE_A64_PREPARE_X("0") PLE_A64_PREPARE_X("1") PLE_A64_PREPARE_X("2") PLE_A64_PREPARE_X("3")       \
  "cbz %[n], 4f\n"                                                                                  \
  "1:\n"                                                                                            \
  PLE_A64_STEP("0", "1", "2", "3", "12", "13", "14", "15")                                          \
  "subs %[n], %[n], #1\n"                                                                           \
  "b.eq 5f\n"                                                                                       \
  PLE_A64_STEP("12", "13", "14", "15", "0", "1", "2", "3")                                          \
  "subs %[n], %[n], #1\n"                                                                           \
  "b.ne 1b\n"                                                                                       \
  "4:\n"                                                                                            \
  PLE_A64_LAST_STEP("0", "1", "2", "3")                                                             \
  "b 6f\n"                                                                                          \
  "5:\n"                                                                                            \
  PLE_A64_LAST_STEP("12", "13", "14", "15")                                                         \
  "6:\n"                                                                                            \
  "stp q16, q17, [%[a]]\n" "stp q18, q19, [%[a], #32]\n" "stp q20, q21, [%[a], #64]\n"             \
  "stp q22, q23, [%[a], #96]\n" "stp q24, q25, [%[a], #128]\n" "stp q26, q27, [%[a], #160]\n"      \
  "stp q28, q29, [%[a], #192]\n" "stp q30, q31, [%[a], #224]\n"

// The registers the loop uses, for the asm statement's clobber list.
#define PLE_A64_STEP_LOOP_CLOBBERS                                                                  \
  "cc", "memory", "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v12", "v13", "v14", "v15", "v16", "v17", \
      "v18", "v19", "v20", "v21", "v22", "v23", "v24", "v25", "v26", "v27", "v28", "v29", "v30", "v31"
