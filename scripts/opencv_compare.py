#!/usr/bin/env python3
"""Compare Watchlight's motion detector with OpenCV's MOG2 and KNN subtractors on CDnet sequences.

Same frames, same protocol, same run:
  * frames are the sequence's `input/inNNNNNN.jpg`, fed in frame-number order;
  * scored frames are those inside `temporalROI.txt` that exist, or with `--learn-until N`
    those after frame N (earlier frames only teach the background);
  * pixels scored: ROI.bmp non-zero; ground truth 255 = moving, 0 and 50 = static,
    85 and 170 ignored; OpenCV's shadow label (127) counts as static;
  * fps times the subtractor alone on frames decoded beforehand, one thread
    (cv2.setNumThreads(1)), default parameters, by the thread's CPU time (both sides).

OpenCV is run twice per sequence: on the colour frames (its usual input; its shadow test
needs chroma) and on the luma frames Watchlight sees. The ratios are taken against the
hardest target: the best OpenCV F-measure of either input, and the fastest MOG2 run.

Usage:
  scripts/opencv_compare.py --bin target/release/watchlight \
      ../shared/data/cdnet/highway ../shared/data/cdnet/traffic:999
A `:N` suffix on a sequence means `--learn-until N`.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import cv2
import numpy as np


def frame_numbers(seq_dir):
    names = sorted(os.listdir(os.path.join(seq_dir, "input")))
    return [int(n[2:8]) for n in names if n.startswith("in") and n.endswith(".jpg")]


def scored_range(seq_dir, learn_until):
    if learn_until is not None:
        return learn_until + 1, 10**9
    with open(os.path.join(seq_dir, "temporalROI.txt")) as f:
        first, last = (int(x) for x in f.read().split()[:2])
    return first, last


def load_gt(seq_dir, n):
    # Palette PNG: read the indices unchanged (the palette is grey, index == value).
    gt = cv2.imread(os.path.join(seq_dir, "groundtruth", f"gt{n:06d}.png"), cv2.IMREAD_UNCHANGED)
    if gt is None:
        raise SystemExit(f"missing ground truth gt{n:06d}.png in {seq_dir}")
    if gt.ndim == 3:
        gt = gt[:, :, 0]
    return gt


def run_subtractor(make, frames):
    sub = make()
    masks = []
    # Thread CPU time, as `watchlight motion eval` measures: on a shared machine, wall time
    # would count other processes' time slices.
    start = time.thread_time()
    for img in frames:
        masks.append(sub.apply(img))
    elapsed = time.thread_time() - start
    return masks, len(frames) / elapsed


def score(masks, numbers, first, last, gts, roi):
    tp = fp = fn = 0
    scored = 0
    for mask, n in zip(masks, numbers):
        if n < first or n > last:
            continue
        gt = gts[n]
        valid = roi & ((gt == 0) | (gt == 50) | (gt == 255))
        pred = mask == 255
        truth = gt == 255
        tp += int(np.count_nonzero(pred & truth & valid))
        fp += int(np.count_nonzero(pred & ~truth & valid))
        fn += int(np.count_nonzero(~pred & truth & valid))
        scored += 1
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"frames_scored": scored, "precision": precision, "recall": recall, "f_measure": f}


def watchlight_eval(binary, seq_dir, learn_until):
    cmd = [binary, "motion", "eval", "--cdnet", seq_dir, "--json"]
    if learn_until is not None:
        cmd += ["--learn-until", str(learn_until)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default="target/release/watchlight", help="the watchlight binary")
    ap.add_argument("--json", action="store_true", help="print one JSON document instead of a table")
    ap.add_argument("sequences", nargs="+", help="CDnet sequence folders, optionally DIR:LEARN_UNTIL")
    args = ap.parse_args()
    cv2.setNumThreads(1)

    report = []
    for spec in args.sequences:
        seq_dir, learn_until = spec, None
        if ":" in spec:
            seq_dir, n = spec.rsplit(":", 1)
            learn_until = int(n)
        numbers = frame_numbers(seq_dir)
        if not numbers:
            raise SystemExit(f"no frames in {seq_dir}/input")
        first, last = scored_range(seq_dir, learn_until)
        colour = [cv2.imread(os.path.join(seq_dir, "input", f"in{n:06d}.jpg")) for n in numbers]
        luma = [cv2.cvtColor(c, cv2.COLOR_BGR2GRAY) for c in colour]
        roi = cv2.imread(os.path.join(seq_dir, "ROI.bmp"), cv2.IMREAD_GRAYSCALE) > 0
        gts = {n: load_gt(seq_dir, n) for n in numbers if first <= n <= last}

        ours = watchlight_eval(args.bin, seq_dir, learn_until)
        row = {"sequence": seq_dir, "learn_until": learn_until, "watchlight": ours}
        for name, make in (("mog2", cv2.createBackgroundSubtractorMOG2), ("knn", cv2.createBackgroundSubtractorKNN)):
            for input_name, frames in (("colour", colour), ("luma", luma)):
                masks, fps = run_subtractor(make, frames)
                result = score(masks, numbers, first, last, gts, roi)
                result["fps"] = fps
                row[f"{name}_{input_name}"] = result
        others = [v for k, v in row.items() if k.startswith(("mog2", "knn"))]
        best_f = max(o["f_measure"] for o in others)
        fastest_mog2 = max(row["mog2_colour"]["fps"], row["mog2_luma"]["fps"])
        row["f_ratio_vs_best_opencv"] = ours["f_measure"] / best_f if best_f else float("inf")
        row["fps_ratio_vs_fastest_mog2"] = ours["fps"] / fastest_mog2
        report.append(row)

    if args.json:
        print(json.dumps(report, indent=2))
        return
    for row in report:
        learn = f" (learn until {row['learn_until']})" if row["learn_until"] is not None else ""
        print(f"== {row['sequence']}{learn}")
        print(f"{'detector':<16} {'frames':>6} {'precision':>9} {'recall':>7} {'F':>7} {'fps':>9}")
        for key in ("watchlight", "mog2_colour", "mog2_luma", "knn_colour", "knn_luma"):
            r = row[key]
            print(
                f"{key:<16} {r['frames_scored']:>6} {r['precision']:>9.3f} {r['recall']:>7.3f} "
                f"{r['f_measure']:>7.3f} {r['fps']:>9.0f}"
            )
        print(
            f"ratios: F ours/best OpenCV = {row['f_ratio_vs_best_opencv']:.3f}, "
            f"fps ours/fastest MOG2 = {row['fps_ratio_vs_fastest_mog2']:.1f}x"
        )


if __name__ == "__main__":
    sys.exit(main())
