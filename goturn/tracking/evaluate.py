"""Benchmark evaluation: run GOTURN and its peers (no motion, OpenCV's CSRT, KCF and MIL) over
every sequence of ALOV, OTB or GOT-10k, record the results, then report.

    python -m goturn.tracking.evaluate --checkpoint C --data_path D --dataset alov --out DIR

``DIR`` gets, in the GOT-10k toolkit's formats:

- ``results/<tracker>/<seq>.txt`` (OTB layout; for ``--dataset got10k`` the
  GOT-10k layout ``results/<tracker>/<seq>/<seq>_001.txt``): one line
  ``x,y,w,h`` per ground-truth row, i.e. per annotated frame (every frame for
  OTB and GOT-10k, about every fifth for ALOV); row 0 is the initialisation
  box. The seconds spent on each frame lie beside it
  (``times/<seq>_time.txt``, resp. ``<seq>/<seq>_time.txt``).
- ``groundtruth/<seq>.txt``: the ground truth of those rows, and
  ``groundtruth/<seq>_frames.txt`` the image of each row: with the result
  file, all that is needed to recompute the scores (e.g. with the toolkit's
  ``rect_iou``);
- ``tracks/<tracker>/<seq>.txt``: the box on every frame, annotated or not;
- ``results/<tracker>/scores/<seq>_score.txt`` (GOT-10k layout:
  ``<seq>/<seq>_score.txt``): the tracker's lost-target score on every frame,
  for the trackers that have one (GOTURN; OpenCV's found flag);
- ``results/<tracker>/baseline/<seq>/<seq>_001.txt``: the supervised
  (re-initialising) run, one line per frame in the VOT toolkit's format;
- ``report.json`` (and ``report.md``: the summary table and what GOTURN adds
  over each peer), ``success_plot.png``, ``precision_plot.png`` with every tracker;
- with ``--pack OUT.zip`` (GOT-10k): the zip its evaluation server takes, GOTURN's
  ``<seq>/<seq>_001.txt`` and ``<seq>_time.txt`` only (``submission.py``);
- with ``--videos N``: ``videos/<seq>.mp4`` and ``.gif`` for the first N
  sequences, the tracker's box and the ground truth drawn on every frame.

A result file is written atomically when its sequence is finished, so an
interrupted evaluation picks up where it stopped: sequences with a result are
skipped (delete a file to recompute it). ``evaluation.json`` records whose
results they are (the checkpoint's SHA-256, the data set and split): a run with
another checkpoint or data stops rather than mix results, or with
``--discard_stale`` deletes the old ones first. The scores are computed from
the files, as the toolkit would.
"""

import argparse
import dataclasses
import os
from pathlib import Path

import numpy as np

from common.cli import add_bool_flag, count, number, positive_int, probability
from common.errors import UserError, run_cli
from common.logs import setup_logging
from common.model_card import append_evaluation, file_sha256
from common.precision import INFERENCE_PRECISIONS
from goturn.data.records import VAL_FRACTION
from goturn.tracking.baselines import make_baselines, parse_baselines
from goturn.tracking.benchmark import (
    PRECISION_PLOT,
    REPORT_FILE,
    SUCCESS_PLOT,
    ResultFiles,
    claim_output_dir,
    evaluate,
)
from goturn.tracking.policy import add_policy_flags, policy_options
from goturn.tracking.rendering import render_track
from goturn.tracking.sequences import DATASETS, read_alov, read_sequences
from goturn.tracking.submission import pack_got10k
from goturn.tracking.tracker import Tracker
from goturn.weights import training_args


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Evaluate a GOTURN checkpoint on ALOV, OTB or GOT-10k.")
    parser.add_argument(
        "--checkpoint", required=True, help="GOTURN checkpoint (this project's or a goturn-pytorch .ckpt)"
    )
    parser.add_argument(
        "--data_path",
        required=True,
        help="ALOV: the folder holding images/ and gt/ "
        "(or its parent); OTB: the folder of sequence folders; GOT-10k: the folder of splits",
    )
    parser.add_argument(
        "--dataset", required=True, choices=DATASETS, help="the benchmark layout DATA_PATH holds"
    )
    parser.add_argument(
        "--split",
        default=None,
        help="ALOV: val (default, training's held-out videos), "
        "train or all; GOT-10k: val (default), test or train; ignored for OTB",
    )
    parser.add_argument(
        "--val_fraction",
        type=number(float, least=0, below=1),
        default=None,
        help="ALOV videos held out per category (default: the checkpoint's training value, else "
        f"{VAL_FRACTION})",
    )
    parser.add_argument("--out", required=True, help="results, report.json and plots go here")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | npu[:N]")
    parser.add_argument(
        "--precision",
        choices=INFERENCE_PRECISIONS,
        default="auto",
        help="GOTURN's autocast precision (auto: fp32 on a CPU, bf16 or fp16 on accelerators)",
    )
    add_policy_flags(parser)
    parser.add_argument("--name", default="GOTURN", help="tracker name in result paths and the report")
    parser.add_argument(
        "--baselines",
        default="csrt,kcf,mil,none",
        help="the peers run beside GOTURN, comma-separated: csrt, kcf, mil (OpenCV's, default "
        "parameters; need opencv-contrib-python-headless), none (no motion); '' for none at all",
    )
    add_bool_flag(
        parser,
        "--supervised",
        default=True,
        help="also run the VOT-style supervised protocol (failures and re-initialisation)",
    )
    parser.add_argument(
        "--videos",
        type=count,
        default=0,
        help="render the tracks of the first N sequences to OUT/videos (mp4 and gif)",
    )
    parser.add_argument(
        "--jobs",
        type=positive_int,
        default=default_jobs(),
        help="worker processes for OpenCV's trackers, one thread each, side by side after GOTURN "
        "(default: the cores; 1: one after the other in this process)",
    )
    parser.add_argument(
        "--min_score",
        type=probability,
        default=None,
        help="in the rendered videos, mark GOTURN's frames whose lost-target score is below this",
    )
    parser.add_argument(
        "--pack",
        default=None,
        metavar="OUT.zip",
        help="GOT-10k only: also write the zip its evaluation server takes (GOTURN's "
        "<seq>/<seq>_001.txt and <seq>_time.txt of every sequence, as the got10k toolkit packs them)",
    )
    add_bool_flag(
        parser,
        "--discard_stale",
        default=False,
        help="when OUT holds results of another checkpoint or data set, delete them instead of stopping",
    )
    return parser


CARD_FIGURES = ("auc", "precision_20px", "fps")
CARD_DEFINITIONS = (
    "auc: OTB success AUC (mean success rate over IoU thresholds 0..1), precision_20px: share of "
    "frames with the centre within 20 px, both on the annotated frames; fps: frames/s of the "
    "tracker alone (report.json's definitions)"
)


def append_to_card(args, report: dict, sequences: int, log) -> None:
    """The headline figures of every tracker, appended to the checkpoint's model card."""
    figures = {
        name: ", ".join(f"{key} {numbers[key]:.3f}" for key in CARD_FIGURES if numbers.get(key) is not None)
        for name, numbers in report["summary"].items()
    }
    title = f"goturn.evaluate, {args.dataset} {report.get('split') or ''} ({sequences} sequences)"
    sha256 = report.get("checkpoint_sha256")  # hashed once, when the evaluation claimed its folder
    card = append_evaluation(args.checkpoint, title, figures, CARD_DEFINITIONS, sha256)
    if card:
        log.info(f"model card: figures appended to {card}")


def main(args) -> dict:
    log = setup_logging(True, 0)
    if args.pack is not None and args.dataset != "got10k":
        raise UserError(f"--pack: GOT-10k's server zip; --dataset is {args.dataset}, expected got10k")
    if args.pack is not None and not args.pack.endswith(".zip"):
        raise UserError(f"--pack {args.pack}: expected a file name ending in .zip")
    if args.val_fraction is None:
        args.val_fraction = training_args(args.checkpoint).get("val_fraction", VAL_FRACTION)
    if args.dataset == "alov":
        sequences = read_alov(args.data_path, args.split or "val", args.val_fraction)
    else:
        sequences = read_sequences(args.dataset, args.data_path, args.split)
    log.info(f"{args.dataset}: {len(sequences)} sequences, {sum(len(s) for s in sequences)} frames")
    baselines = make_baselines(parse_baselines(args.baselines))
    if args.name in [baseline.name for baseline in baselines]:
        raise UserError(f"--name {args.name!r} is the name of a baseline; choose another")
    tracker = Tracker(
        args.checkpoint,
        device=args.device,
        name=args.name,
        precision=args.precision,
        **policy_options(args),
    )
    split = args.split or ("val" if args.dataset != "otb" else None)
    identity = {
        "checkpoint_sha256": file_sha256(args.checkpoint),
        "dataset": args.dataset,
        "split": split,
        "data_path": str(Path(args.data_path).resolve()),
        "tracker": args.name,
        "precision": tracker.precision,
        "policy": dataclasses.asdict(tracker.policy),
        **({"val_fraction": args.val_fraction} if args.dataset == "alov" else {}),
    }
    claim_output_dir(Path(args.out), identity, args.discard_stale, log)
    context = {
        "dataset": args.dataset,
        "split": split,
        "data_path": str(args.data_path),
        "checkpoint": str(args.checkpoint),
        "checkpoint_sha256": identity["checkpoint_sha256"],
        "device": str(tracker.device),
        "precision": tracker.precision,
        "policy": identity["policy"],
    }
    layout = "got10k" if args.dataset == "got10k" else "otb"
    report = evaluate(
        tracker,
        sequences,
        args.out,
        baselines=baselines,
        layout=layout,
        supervised=args.supervised,
        context=context,
        log=log,
        jobs=args.jobs,
    )
    for name, numbers in report.get("summary", {}).items():
        log.info(
            f"{name}: "
            + ", ".join(f"{key} {value:.3f}" for key, value in numbers.items() if value is not None)
        )
    for comparison in report.get("comparison", {}).values():
        log.info(comparison["statement"])
    if report:
        log.info(f"report: {Path(args.out) / REPORT_FILE} (and .md); plots: {SUCCESS_PLOT}, {PRECISION_PLOT}")
        append_to_card(args, report, len(sequences), log)
    files = ResultFiles(args.out, layout)
    if args.pack is not None:
        packed = pack_got10k(files.root / tracker.name, [s.name for s in sequences], args.pack)
        log.info(f"GOT-10k submission: {packed} ({len(sequences)} sequences)")
    for sequence in sequences[: args.videos]:
        video = Path(args.out) / "videos" / f"{sequence.name}.mp4"
        boxes = np.loadtxt(files.track_path(tracker.name, sequence.name), delimiter=",", ndmin=2)
        scores = files.read_scores(tracker.name, sequence.name)
        render_track(
            sequence,
            boxes,
            tracker.name,
            video,
            video.with_suffix(".gif"),
            scores=scores,
            min_score=args.min_score,
        )
        log.info(f"video: {video} (and .gif)")
    return report


if __name__ == "__main__":
    run_cli(main, get_args_parser())
