#!/usr/bin/env python3
"""Convert DeepBench's published problem sets into dlbench problem lists.

DeepBench (github.com/baidu-research/DeepBench) keeps its kernels as C++ tuple arrays in
code/kernels/{gemm,conv,rnn}_problems.h, one array per set: training_set, inference_server_set,
inference_device_set. This script reads those three headers (saved verbatim from the commits in
SOURCES below; DeepBench's source is not committed here) and writes one dlbench problem list per
set: one repro string per line, '#' full-line comments, in DeepBench's order.

Usage:
  convert_deepbench.py convert --src DIR [--out inputs/deepbench]
      DIR holds gemm_problems.h, conv_problems.h and rnn_problems.h as fetched.
  convert_deepbench.py check FILE...
      Checks the syntax of problem lists: every non-comment line is 'workload key=value ...' with
      known keys (inputs/README.md) and well-formed values. Exit status 1 on any error.

Conversions (see inputs/README.md):
  GEMM (M, N, K, a_t, b_t), a column-major cuBLAS call C(MxN) = op(A) op(B):
      micro/gemm m=N n=M k=K transa=<b_t> transb=<a_t>     (true -> t, false -> n)
  Conv (W, H, C, N, K, S, R, pad_w, pad_h, wstride, hstride), S = filter width, R = filter height:
      micro/conv n=N c=C h=H w=W k=K r=R s=S pad=<pad_h>x<pad_w> stride=<hstride>x<wstride>
      (a tuple whose two values are equal is written as one number)
  RNN (hidden, batch, timesteps, type); DeepBench's "vanilla" is cuDNN's CUDNN_RNN_RELU:
      micro/rnn cell=<rnn_relu|lstm|gru> hidden=H input=H batch=B timesteps=T
"""

import argparse
import os
import re
import sys
from collections import Counter

REPO = "baidu-research/DeepBench"

# Where each header was read from (the newest stored version of each file; see inputs/README.md).
SOURCES = {
    "gemm": {
        "path": "code/kernels/gemm_problems.h",
        "commit": "0201198555d12aedc44eb54c19436dcb5de25feb",
        "file": "gemm_problems.h",
        "chars": 13125,
    },
    "conv": {
        "path": "code/kernels/conv_problems.h",
        "commit": "1a81dcb94744246beede5b69a3a5740c4677ecad",
        "file": "conv_problems.h",
        "chars": 14122,
    },
    "rnn": {
        "path": "code/kernels/rnn_problems.h",
        "commit": "608d7a3f5e7a6db791664a2f498c1ba642919217",
        "file": "rnn_problems.h",
        "chars": 5746,
    },
}

SETS = [
    ("training_set", "train", "training"),
    ("inference_server_set", "inference-server", "inference (server)"),
    ("inference_device_set", "inference-device", "inference (device)"),
]

# What DeepBench's own benchmark programs do with each kind of set (read from the same
# repository: code/nvidia/{gemm,conv,rnn}_bench.cu, code/nvidia/cudnn_helper.h,
# code/arm/armcl_bench.cpp). Only stated in the headers; no dtype is written into the problems.
PRECISION_NOTE = {
    "train": [
        "DeepBench precision: its NVIDIA programs default to half (fp16) in training mode on",
        "CUDA >= 8 / cuDNN >= 6 (float before that; float can be asked for). No dtype is written",
        "here: the suite or the user sets dtype=...",
    ],
    "inference-server": [
        "DeepBench precision: its NVIDIA programs default to int8 in inference mode on",
        "CUDA >= 8 / cuDNN >= 6 (padding some dimensions to multiples of 4 for int8; float and",
        "half can be asked for). dlbench has no int8 dtype; no dtype is written here: the suite",
        "or the user sets dtype=...",
    ],
    "inference-device": [
        "DeepBench precision: the device set is for phones and embedded boards, run by its ARM",
        "programs (code/arm; the ARM GEMM program armcl_bench.cpp offers f32 and u8). dlbench",
        "has no int8 dtype; no dtype is written here: the suite or the user sets dtype=...",
    ],
}

ARRAY_RE = re.compile(r"std::vector<.*?>>\s*(\w+)\s*=\s*\{(.*?)\n\};", re.S)
TUPLE_RE = re.compile(r"std::make_tuple\((.*?)\)")


def parse_header(text):
    """Returns {array name: (column comment, [entries])}; an entry is ('tuple', values) or
    ('commented', raw line) for a tuple DeepBench has commented out."""
    arrays = {}
    for match in ARRAY_RE.finditer(text):
        name, body = match.group(1), match.group(2)
        # The '// Vector saves ...' / '// Hidden units ...' comment just above the array.
        before = text[: match.start()].rstrip().splitlines()
        column_comment = before[-1].strip() if before and before[-1].strip().startswith("//") else ""
        entries = []
        for line in body.splitlines():
            stripped = line.strip()
            if not stripped:
                continue
            tuple_match = TUPLE_RE.search(stripped)
            if stripped.startswith("//"):
                if tuple_match:
                    entries.append(("commented", stripped))
                continue
            if not tuple_match:
                raise ValueError(f"{name}: unexpected line {stripped!r}")
            values = [v.strip() for v in tuple_match.group(1).split(",")]
            entries.append(("tuple", values))
        arrays[name] = (column_comment, entries)
    return arrays


def as_int(text):
    if not re.fullmatch(r"\d+", text):
        raise ValueError(f"not a non-negative integer: {text!r}")
    return int(text)


def as_bool(text):
    if text not in ("true", "false"):
        raise ValueError(f"not a bool: {text!r}")
    return text == "true"


def tuple_param(h, w):
    return str(h) if h == w else f"{h}x{w}"


def convert_gemm(values):
    m, n, k = (as_int(v) for v in values[:3])
    a_t, b_t = as_bool(values[3]), as_bool(values[4])
    line = (f"micro/gemm m={n} n={m} k={k} transa={'t' if b_t else 'n'} "
            f"transb={'t' if a_t else 'n'}")
    return line, 2 * m * n * k


def conv_output(size, pad, filt, stride):
    return (size + 2 * pad - filt) // stride + 1


def convert_conv(values):
    w, h, c, n, k, s, r, pad_w, pad_h, wstride, hstride = (as_int(v) for v in values)
    p = conv_output(h, pad_h, r, hstride)
    q = conv_output(w, pad_w, s, wstride)
    if p < 1 or q < 1:
        raise ValueError(f"empty output for {values}")
    line = (f"micro/conv n={n} c={c} h={h} w={w} k={k} r={r} s={s} "
            f"pad={tuple_param(pad_h, pad_w)} stride={tuple_param(hstride, wstride)}")
    return line, 2 * n * k * p * q * c * r * s


RNN_CELLS = {"vanilla": ("rnn_relu", 1), "lstm": ("lstm", 4), "gru": ("gru", 3)}


def convert_rnn(values):
    hidden, batch, steps = (as_int(v) for v in values[:3])
    kind = values[3].strip('"')
    cell, gates = RNN_CELLS[kind]
    line = f"micro/rnn cell={cell} hidden={hidden} input={hidden} batch={batch} timesteps={steps}"
    # Forward GEMM FLOPs with an input projection (input = hidden): per step
    # 2 * batch * gates*hidden * (input + hidden).
    return line, 2 * batch * gates * hidden * (2 * hidden) * steps


CONVERTERS = {"gemm": convert_gemm, "conv": convert_conv, "rnn": convert_rnn}

CONVERSION_NOTE = {
    "gemm": [
        "Conversion: DeepBench's (M, N, K, a_t, b_t) is a column-major cuBLAS call",
        "C(M x N) = op(A) op(B) (code/nvidia/gemm_bench.cu). dlbench's micro/gemm is row-major",
        "C[m x n] = op(A) op(B); a column-major M x N matrix is the row-major N x M matrix C^T, so",
        "DeepBench's exact kernel is replayed as",
        "  micro/gemm m=N n=M k=K transa=<b_t> transb=<a_t>   (true -> t, false -> n).",
        "Same 2*M*N*K FLOPs, same operand sizes, same BLAS call underneath.",
    ],
    "conv": [
        "Conversion: DeepBench's tuple is (W, H, C, N, K, S, R, pad_w, pad_h, wstride, hstride),",
        "S = filter width, R = filter height (code/nvidia/conv_bench.cu unpacks it as",
        "std::tie(w, h, c, n, k, s, r, pad_w, pad_h, wstride, hstride) with 'r - filter_h,",
        "s - filter_w' and builds the cuDNN filter as k x c x r x s). Written as",
        "  micro/conv n=N c=C h=H w=W k=K r=R s=S pad=<pad_h>x<pad_w> stride=<hstride>x<wstride>",
        "(tuples are h x w; equal values are written once, e.g. pad=1). NCHW, no dilation, one",
        "group, as in DeepBench. No pass is written (micro/conv's default, the forward pass):",
        "DeepBench's training mode times fwd, bwd_data and bwd_weight of every tuple, so set",
        "pass=bwd_data / pass=bwd_weight for the other two passes.",
    ],
    "rnn": [
        "Conversion: DeepBench's tuple is (hidden units, batch size, timesteps, cell type), one",
        "layer, unidirectional, input size = hidden size (code/nvidia/rnn_bench.cu). Its",
        "'vanilla' cell is cuDNN's CUDNN_RNN_RELU (code/nvidia/cudnn_helper.h), so it is written",
        "as rnn_relu; lstm and gru keep their names:",
        "  micro/rnn cell=<rnn_relu|lstm|gru> hidden=H input=H batch=B timesteps=T",
        "Difference: DeepBench sets CUDNN_SKIP_INPUT, so cuDNN skips the input projection W_ih x",
        "and times only the recurrent part; a LibTorch RNN with input=H also does the input",
        "projection (about twice the GEMM FLOPs). DeepBench times the forward pass",
        "(cudnnRNNForwardTraining) and, in training mode, cudnnRNNBackwardData (no weight",
        "gradients).",
    ],
}

# The other stored version of each header differs from the one used here in a few tuples.
VERSION_NOTE = {
    ("gemm", "train"): [
        "Other version: at commit 7b75e76ba0fa60e67a1f4c11ea5ff9381072eb67 the 6144-row GEMMs had",
        "K=2560; the commit used here has K=2048 (6144 = 3 x 2048, a GRU's three gates).",
    ],
    ("gemm", "inference-server"): [
        "Other version: at commit 7b75e76ba0fa60e67a1f4c11ea5ff9381072eb67 the 6144-row GEMMs had",
        "K=2560; the commit used here has K=2048 (6144 = 3 x 2048, a GRU's three gates).",
    ],
    ("conv", "inference-device"): [
        "Other version: at commit e54214fefaba4e69843a522b0fbe5ee7205579a3 the first tuple",
        "(151, 40, 1, 1, 32, 20, 5, 8, 8, 8, 2) was the one commented out ('ARM convolution seg",
        "faults with this kernel') and (7, 7, 512, 1, 512, 3, 3, 1, 1, 1, 1) was active.",
        "Odd but published: that first tuple pads by 8 with a 5-high, 20-wide filter and",
        "strides 2 x 8.",
    ],
    ("rnn", "train"): [
        "Other version: at commit 7b75e76ba0fa60e67a1f4c11ea5ff9381072eb67 the tuple",
        "(2816, 32, 1500, gru) was active; the commit used here comments it out.",
    ],
}

FLOP_NOTE = {
    "gemm": "2*M*N*K",
    "conv": "forward pass only, 2*N*K*P*Q*C*R*S with P, Q the output height and width",
    "rnn": "forward pass, input projection included: 2*B*G*H*(H+H)*T, G = 1/4/3 gates "
           "for rnn_relu/lstm/gru",
}


def human_flops(flops):
    for unit, scale in (("PFLOP", 1e15), ("TFLOP", 1e12), ("GFLOP", 1e9), ("MFLOP", 1e6)):
        if flops >= scale:
            return f"{flops / scale:.3g} {unit}"
    return f"{flops} FLOP"


def write_set(kind, array_name, set_slug, set_words, column_comment, entries, out_dir):
    source = SOURCES[kind]
    converter = CONVERTERS[kind]
    lines, flops, originals = [], 0, []
    commented = []
    for entry_kind, payload in entries:
        if entry_kind == "commented":
            commented.append(payload)
            lines.append(f"# DeepBench comments this tuple out (not a problem here): {payload}")
            continue
        line, work = converter(payload)
        lines.append(line)
        originals.append((", ".join(payload), line))
        flops += work
    problems = [l for l in lines if not l.startswith("#")]
    counts = Counter(problems)
    duplicates = [(p, c) for p, c in counts.items() if c > 1]

    header = [
        f"# DeepBench {kind.upper()} problems, {set_words} set: {len(problems)} problems,",
        "# one dlbench repro string per line, in DeepBench's order (problem i = tuple i).",
        f"# Source: github.com/{REPO}, file {source['path']}",
        f"#   at commit {source['commit']},",
        f"#   array `{array_name}`; tuple columns as its comment gives them: {column_comment}",
    ]
    header += ["# " + l for l in CONVERSION_NOTE[kind]]
    header += ["# " + l for l in PRECISION_NOTE[set_slug]]
    header += ["# " + l for l in VERSION_NOTE.get((kind, set_slug), [])]
    if commented:
        header.append(f"# DeepBench comments out {len(commented)} tuple(s) of this array; they are")
        header.append("# kept below as comments at their place and not counted.")
    if duplicates:
        extra = sum(c - 1 for _, c in duplicates)
        header.append(f"# Duplicates: DeepBench lists {len(duplicates)} tuple(s) more than once "
                      f"({extra} extra line(s));")
        header.append("# kept as published (each is timed again):")
        for problem, count in duplicates:
            header.append(f"#   {count}x {problem}")
    else:
        header.append("# Duplicates: none.")
    header.append(f"# Work: {human_flops(flops)} in total ({FLOP_NOTE[kind]}), summed over the list.")
    header.append("# Generated by inputs/tools/convert_deepbench.py; do not edit by hand.")
    path = os.path.join(out_dir, f"{kind}-{set_slug}.txt")
    with open(path, "w") as f:
        f.write("\n".join(header) + "\n\n" + "\n".join(lines) + "\n")
    return path, len(problems), flops, duplicates, commented


def convert(src_dir, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    summary = []
    for kind, source in SOURCES.items():
        with open(os.path.join(src_dir, source["file"])) as f:
            text = f.read()
        if len(text) != source["chars"]:
            sys.exit(f"{source['file']}: {len(text)} characters, expected {source['chars']} "
                     f"(the size of {source['path']} at {source['commit']})")
        arrays = parse_header(text)
        for array_name, set_slug, set_words in SETS:
            if array_name not in arrays:
                print(f"{kind}: DeepBench has no {array_name}; skipped")
                continue
            column_comment, entries = arrays[array_name]
            result = write_set(kind, array_name, set_slug, set_words, column_comment, entries,
                               out_dir)
            summary.append((kind, set_slug) + result)
    for kind, set_slug, path, count, flops, duplicates, commented in summary:
        print(f"{path}: {count} problems, {human_flops(flops)}, "
              f"{sum(c - 1 for _, c in duplicates)} duplicate line(s), "
              f"{len(commented)} commented-out tuple(s); "
              f"{flops / 150e9 / 60:.1f} min at 150 GFLOP/s")


# Keys each micro workload accepts (PARAM_NAMES: the agreed names) and how to check values.
COMMON = {"device": "word", "threads": "int", "seed": "int"}
KNOWN = {
    # batch: micro/gemm's batched form, accepted by the current binary (not in PARAM_NAMES).
    "micro/gemm": {"m": "int", "n": "int", "k": "int", "batch": "int", "transa": ("n", "t"),
                   "transb": ("n", "t"), "dtype": ("fp32", "fp64", "tf32", "bf16", "fp16")},
    "micro/conv": {"dims": ("2", "3"), "n": "int", "c": "int", "d": "int", "h": "int", "w": "int",
                   "k": "int", "t": "int", "r": "int", "s": "int", "stride": "tuple",
                   "pad": "tuple", "dilation": "tuple", "groups": "int",
                   "layout": ("nchw", "nhwc"), "pass": ("fwd", "bwd_data", "bwd_weight"),
                   "dtype": ("fp32", "bf16", "fp16", "fp64")},
    "micro/rnn": {"cell": ("rnn_tanh", "rnn_relu", "lstm", "gru"), "input": "int", "hidden": "int",
                  "batch": "int", "timesteps": "int", "layers": "int",
                  "bidirectional": ("true", "false"), "pass": ("fwd", "bwd"),
                  "dtype": ("fp32", "bf16", "fp16")},
}
# Keys a problem of each workload must give (no defaults relied on for the shape).
REQUIRED = {
    "micro/gemm": {"m", "n", "k", "transa", "transb"},
    "micro/conv": {"n", "c", "h", "w", "k", "r", "s", "pad", "stride"},
    "micro/rnn": {"cell", "hidden", "input", "batch", "timesteps"},
}


def check_value(kind, value):
    if kind == "int":
        return re.fullmatch(r"[1-9]\d*|0", value) is not None
    if kind == "tuple":
        return re.fullmatch(r"\d+(x\d+){0,2}", value) is not None
    if kind == "word":
        return re.fullmatch(r"[a-z0-9:]+", value) is not None
    return value in kind


def check(paths):
    errors = 0
    for path in paths:
        with open(path) as f:
            lines = f.read().splitlines()
        if not lines or not lines[0].startswith("#"):
            print(f"{path}:1: a problem list starts with its header comment")
            errors += 1
        problems = 0
        for number, line in enumerate(lines, 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            problems += 1
            tokens = line.split()
            workload = tokens[0]
            where = f"{path}:{number}"
            if workload not in KNOWN:
                print(f"{where}: unknown workload {workload!r}")
                errors += 1
                continue
            keys = set()
            for token in tokens[1:]:
                if token.count("=") != 1:
                    print(f"{where}: malformed token {token!r}")
                    errors += 1
                    continue
                key, value = token.split("=")
                allowed = {**KNOWN[workload], **COMMON}
                if key not in allowed:
                    print(f"{where}: unknown key {key!r} for {workload}")
                    errors += 1
                elif key in keys:
                    print(f"{where}: key {key!r} given twice")
                    errors += 1
                elif not check_value(allowed[key], value):
                    print(f"{where}: bad value {value!r} for {key}")
                    errors += 1
                keys.add(key)
            missing = REQUIRED[workload] - keys
            if missing:
                print(f"{where}: missing {sorted(missing)}")
                errors += 1
        # The header's count must match the lines.
        match = re.search(r": (\d+) problems,", lines[0]) if lines else None
        if match and int(match.group(1)) != problems:
            print(f"{path}: header says {match.group(1)} problems, file has {problems}")
            errors += 1
        print(f"{path}: {problems} problems checked")
    return 1 if errors else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    conv = sub.add_parser("convert", help="write the problem lists from DeepBench's headers")
    conv.add_argument("--src", required=True, help="folder with the three saved headers")
    conv.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "deepbench"))
    chk = sub.add_parser("check", help="check the syntax of problem lists")
    chk.add_argument("files", nargs="+")
    args = parser.parse_args()
    if args.command == "convert":
        convert(args.src, os.path.normpath(args.out))
        return 0
    return check(args.files)


if __name__ == "__main__":
    sys.exit(main())
