#!/usr/bin/env python3
"""Checks a diagnostics report written by `ple-inspect --activity` (docs/diagnostics.md).

  check_report.py REPORT.html [--bundle DIR [--quantized]] [--float] [--png-dir DIR]

* the report parses as XML (and `xmllint --noout` accepts it: done by the ctest around this);
* the expert-utilisation bars: one per (level, computed gate, expert weighed), counted from
  the structure drawing's gates; with --bundle, their data-mean equals the mean of the gate weights the bundle's independent reference stored
  (expected.levels.{l}.task_gates.{t} / shared_gate in data.safetensors) within the bundle's
  tolerance (float models) or the quantized bar (--quantized);
* every bundle gate tensor is either drawn or reported as not computed;
* every SVG renders with rsvg-convert to a PNG that is not blank (more than one colour, and
  more than 1% of its pixels differ from the background);
* with --float: the quantization figure has one bar per layer table row.

Only the standard library: no numpy, no torch (CI runs it as is).
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
import zlib

XHTML = "{http://www.w3.org/1999/xhtml}"
SVG = "{http://www.w3.org/2000/svg}"


def fail(message):
    print("check_report: FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def read_safetensors_f64(path):
    """name -> (shape, flat list of floats) for the F64 tensors of a safetensors file."""
    with open(path, "rb") as f:
        header_size = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(header_size))
        data = f.read()
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F64":
            continue
        begin, end = info["data_offsets"]
        count = (end - begin) // 8
        tensors[name] = (info["shape"], struct.unpack("<%dd" % count, data[begin:end]))
    return tensors


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def decode_png(path):
    """(width, height, rows of RGBA bytes) of an 8-bit RGBA or RGB, non-interlaced PNG."""
    with open(path, "rb") as f:
        blob = f.read()
    if blob[:8] != b"\x89PNG\r\n\x1a\n":
        fail(path + " is not a PNG")
    pos, idat = 8, b""
    while pos < len(blob):
        length, kind = struct.unpack(">I4s", blob[pos:pos + 8])
        body = blob[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    if depth != 8 or colour not in (2, 6) or interlace != 0:
        fail("%s: unexpected PNG format (depth %d, colour type %d, interlace %d)" % (path, depth, colour, interlace))
    bpp = 4 if colour == 6 else 3
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, previous = [], bytearray(stride)
    for y in range(height):
        filter_type = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up = previous[i]
            upper_left = previous[i - bpp] if i >= bpp else 0
            if filter_type == 1:
                line[i] = (line[i] + left) & 255
            elif filter_type == 2:
                line[i] = (line[i] + up) & 255
            elif filter_type == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif filter_type == 4:
                line[i] = (line[i] + paeth(left, up, upper_left)) & 255
        rows.append(bytes(line))
        previous = line
    return width, height, rows, bpp


def check_render(svg_element, name, png_dir):
    ET.register_namespace("", SVG[1:-1])
    svg_text = ET.tostring(svg_element, encoding="unicode")
    directory = png_dir or tempfile.mkdtemp()
    os.makedirs(directory, exist_ok=True)
    svg_path = os.path.join(directory, name + ".svg")
    png_path = os.path.join(directory, name + ".png")
    with open(svg_path, "w", encoding="utf-8") as f:
        f.write(svg_text)
    subprocess.run(["rsvg-convert", "-o", png_path, svg_path], check=True)
    width, height, rows, bpp = decode_png(png_path)
    background = rows[0][:bpp]
    colours, differing = set(), 0
    for row in rows:
        for x in range(0, width * bpp, bpp):
            pixel = row[x:x + bpp]
            colours.add(pixel)
            differing += pixel != background
    share = differing / float(width * height)
    if len(colours) < 2 or share < 0.01:
        fail("%s renders blank: %d colours, %.2f%% of pixels differ from the background" % (name, len(colours), 100 * share))
    print("check_report: %s renders to %dx%d, %d colours, %.1f%% drawn" % (name, width, height, len(colours), 100 * share))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("report")
    parser.add_argument("--bundle", help="a conformance bundle whose stored gate weights the bars must match")
    parser.add_argument("--quantized", action="store_true", help="the model is quantized: the int8 accuracy bar")
    parser.add_argument("--float", action="store_true", help="the report has a quantization view")
    parser.add_argument("--png-dir", help="keep the rendered SVG and PNG files here")
    parser.add_argument("--labels", action="store_true", help="the data has labels: every binary task has AUCs")
    parser.add_argument("--no-render", action="store_true", help="rsvg-convert is missing: fail, naming the package")
    args = parser.parse_args()

    try:
        root = ET.parse(args.report).getroot()
    except ET.ParseError as e:
        fail("%s does not parse as XML: %s" % (args.report, e))
    if root.tag != XHTML + "html":
        fail("the root element is %s, not XHTML's html" % root.tag)

    gates = {}
    atol = 0.0
    if args.bundle:
        with open(os.path.join(args.bundle, "bundle.json")) as f:
            manifest = json.load(f)
        tolerance = manifest.get("tolerance", {})
        atol = 8e-2 if args.quantized else max(tolerance.get("atol", 1e-6), 1e-6) + tolerance.get("rtol", 1e-5)
        expected = read_safetensors_f64(os.path.join(args.bundle, manifest.get("data", "data.safetensors")))
        for name, (shape, values) in expected.items():
            if not name.startswith("expected.levels."):
                continue
            rows, columns = shape
            means = [sum(values[r * columns + c] for r in range(rows)) / rows for c in range(columns)]
            gates[name[len("expected."):]] = means
        if not gates:
            fail("the bundle %s stores no gate weights" % args.bundle)

    bars = [e for e in root.iter(SVG + "rect") if "bar" in e.get("class", "").split()]
    structure_gates = [e for e in root.iter(SVG + "rect") if e.get("class") == "gate"]
    drawn = {}
    for bar in bars:
        drawn.setdefault((int(bar.get("data-level")), int(bar.get("data-stream")), bar.get("data-gate-name")), []).append(bar)

    def bundle_name(level, stream, gate_name):
        # The bundle names a task gate by its task's stream, the shared gate by "shared_gate".
        if gate_name == "shared":
            return "levels.%d.shared_gate" % level
        return "levels.%d.task_gates.%d" % (level, stream)

    for (level, stream, gate_name), gate_bars in drawn.items():
        key = bundle_name(level, stream, gate_name)
        gate_bars.sort(key=lambda b: int(b.get("data-position")))
        if not args.bundle:
            continue
        if key not in gates:
            fail("the report draws %s, which the bundle does not have" % key)
        means = gates.pop(key)
        if len(means) != len(gate_bars):
            fail("%s: %d bars drawn, the gate weighs %d experts" % (key, len(gate_bars), len(means)))
        for position, (bar, mean) in enumerate(zip(gate_bars, means)):
            got = float(bar.get("data-mean"))
            if abs(got - mean) > atol:
                fail("%s expert position %d: mean %.9g drawn, %.9g in the bundle (tolerance %g)" % (key, position, got, mean, atol))
            p10, p90 = float(bar.get("data-p10")), float(bar.get("data-p90"))
            if not (float(bar.get("data-min")) <= p10 <= p90 <= float(bar.get("data-max"))):
                fail("%s: percentiles out of order" % key)
    not_computed = {bundle_name(int(g.get("data-level")), int(g.get("data-stream")),
                                "shared" if g.get("data-shared") == "1" else "task")
                    for g in structure_gates if g.get("data-computed") == "0"}
    for key in gates:  # in the bundle but not drawn: the structure must say it is not computed
        if key not in not_computed:
            fail("the bundle has %s but the report neither draws it nor marks it not computed" % key)
    expected_bars = sum(int(g.get("data-experts")) for g in structure_gates if g.get("data-computed") == "1")
    if not structure_gates or len(bars) != expected_bars:
        fail("%d bars drawn; the structure's computed gates weigh %d experts in all" % (len(bars), expected_bars))
    if args.bundle:
        print("check_report: %d bars over %d gates match the bundle's reference gate weights" % (len(bars), len(drawn)))
    else:
        print("check_report: %d bars over %d gates, as the structure's gates weigh" % (len(bars), len(drawn)))

    if args.float:
        qbars = [e for e in root.iter(SVG + "rect") if e.get("class") == "qbar"]
        table = root.find(".//" + XHTML + "table[@id='layer-errors']")
        if table is None:
            fail("no layer-errors table")
        rows = len(table.findall(XHTML + "tr")) - 1
        tasks = len(root.find(".//" + XHTML + "table[@id='task-errors']").findall(XHTML + "tr")) - 1
        if len(qbars) != rows + tasks or rows == 0:
            fail("%d quantization bars for %d layer rows and %d tasks" % (len(qbars), rows, tasks))
        for bar in qbars:
            value = float(bar.get("data-relative-l2"))
            if not (0 <= value < 1):
                fail("%s: relative L2 %g is not a quantization error" % (bar.get("data-name"), value))
        print("check_report: %d quantization bars (%d layers and gates, %d tasks)" % (len(qbars), rows, tasks))
        ranking = root.find(".//" + XHTML + "table[@id='ranking']")
        if ranking is None or len(ranking.findall(XHTML + "tr")) < 2:
            fail("no ranking table")
        for row in ranking.findall(XHTML + "tr")[1:]:
            cells = [c.text for c in row.findall(XHTML + "td")]
            top1, tau_b, ndcg = float(cells[2]), float(cells[7]), float(cells[9])
            if not (0 <= top1 <= 1 and -1 <= tau_b <= 1 and 0 <= ndcg <= 1):
                fail("ranking by %s: top-1 %s, tau-b %s, NDCG %s" % (cells[0], cells[2], cells[7], cells[9]))
        print("check_report: ranking table, %d rows" % (len(ranking.findall(XHTML + "tr")) - 1))

    if args.labels:
        table = root.find(".//" + XHTML + "table[@id='task-errors']")
        for row in table.findall(XHTML + "tr")[1:]:
            cells = [c.text for c in row.findall(XHTML + "td")]
            auc_float, auc_quantized = float(cells[5]), float(cells[6])  # "-" when missing: ValueError
            if not (0.5 < auc_float <= 1 and abs(auc_quantized - auc_float) < 0.05):
                fail("task %s: AUC %s (float32) and %s (quantized)" % (cells[0], cells[5], cells[6]))
        print("check_report: AUC of every task against the labels, float32 and quantized")

    if args.no_render:
        fail("rsvg-convert is not installed (Debian: librsvg2-bin); the pictures cannot be checked")
    svgs = list(root.iter(SVG + "svg"))
    if len(svgs) < 2:
        fail("%d pictures: expected the structure and one per level" % len(svgs))
    for svg in svgs:
        check_render(svg, svg.get("id"), args.png_dir)


if __name__ == "__main__":
    main()
