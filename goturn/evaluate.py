"""Benchmark evaluation: run GOTURN and the no-motion baseline over every
sequence of ALOV, OTB or GOT-10k, record the results, then report.

    python -m goturn.evaluate --checkpoint C --data_path D --dataset alov --out DIR

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
- ``results/<tracker>/baseline/<seq>/<seq>_001.txt``: the supervised
  (re-initialising) run, one line per frame in the VOT toolkit's format;
- ``report.json``, ``success_plot.png``, ``precision_plot.png``;
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
import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
from PIL import Image

from common.cli import add_bool_flag
from common.errors import UserError, run_cli
from common.logs import setup_logging
from goturn import metrics
from goturn.report import DEFINITIONS, headline, plot_curves, score_tracker
from goturn.sequences import ALOV_VAL_FRACTION, DATASETS, Sequence, read_alov, read_sequences
from goturn.track import DEFAULT_FPS, TRUTH_COLOUR, VideoWriter, draw_box, draw_label
from goturn.tracker import NoMotionTracker, Tracker

REPORT_FILE = "report.json"
STATE_FILE = "evaluation.json"
# What --discard_stale deletes: everything derived from one checkpoint's run.
RUN_OUTPUTS = ("results", "tracks", "groundtruth", "videos", REPORT_FILE, "success_plot.png",
               "precision_plot.png")
SUCCESS_PLOT = "success_plot.png"
PRECISION_PLOT = "precision_plot.png"


def write_text_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(text)
    os.replace(temp, path)


def format_rows(rows, fmt: str) -> str:
    return "".join(",".join(fmt % v for v in row) + "\n" for row in np.atleast_2d(rows))


class ResultFiles:
    """Where a tracker's results for a sequence live, in the GOT-10k
    toolkit's layouts (``got10k``: ExperimentGOT10k's, else ExperimentOTB's)."""

    def __init__(self, out_dir, layout: str):
        self.root = Path(out_dir) / "results"
        self.tracks = Path(out_dir) / "tracks"
        self.layout = layout

    def boxes_path(self, tracker: str, sequence: str) -> Path:
        if self.layout == "got10k":
            return self.root / tracker / sequence / f"{sequence}_001.txt"
        return self.root / tracker / f"{sequence}.txt"

    def times_path(self, tracker: str, sequence: str) -> Path:
        if self.layout == "got10k":
            return self.root / tracker / sequence / f"{sequence}_time.txt"
        return self.root / tracker / "times" / f"{sequence}_time.txt"

    def supervised_path(self, tracker: str, sequence: str) -> Path:
        return self.root / tracker / "baseline" / sequence / f"{sequence}_001.txt"

    def track_path(self, tracker: str, sequence: str) -> Path:
        return self.tracks / tracker / f"{sequence}.txt"

    def write(self, tracker: str, sequence: Sequence, boxes, times) -> None:
        """``boxes``: one per frame; the result file keeps the annotated rows, or every row where
        only the first is annotated (GOT-10k's test split: the files go to its server, which
        wants one box per frame)."""
        rows = metrics.annotated_rows(sequence.ground_truth)
        if rows.sum() < 2:
            rows[:] = True
        name = sequence.name
        # The result file last: it marks the sequence as finished.
        write_text_atomically(self.track_path(tracker, name), format_rows(boxes, "%.3f"))
        write_text_atomically(self.times_path(tracker, name), "".join(f"{t:.8f}\n" for t in times))
        write_text_atomically(self.boxes_path(tracker, name), format_rows(np.asarray(boxes)[rows], "%.3f"))

    def read(self, tracker: str, sequence: str) -> tuple[np.ndarray, np.ndarray]:
        boxes = np.loadtxt(self.boxes_path(tracker, sequence), delimiter=",", ndmin=2)
        times_path = self.times_path(tracker, sequence)
        times = np.loadtxt(times_path, ndmin=1) if times_path.is_file() else np.zeros(len(boxes))
        return boxes, times

    def write_supervised(self, tracker: str, sequence: str, record: metrics.SupervisedRecord) -> None:
        write_text_atomically(self.supervised_path(tracker, sequence), "\n".join(record.lines()) + "\n")

    def read_supervised(self, tracker: str, sequence: str) -> metrics.SupervisedRecord:
        lines = self.supervised_path(tracker, sequence).read_text().splitlines()
        return metrics.SupervisedRecord.from_lines(lines)


def run_supervised(tracker, sequence: Sequence, image_size) -> metrics.SupervisedRecord:
    """The VOT supervised protocol: on a failure (zero overlap with an
    annotated frame) wait ``VOT_REINIT_DELAY`` frames, then re-initialise
    from the ground truth (on the next annotated frame)."""
    ground_truth = sequence.ground_truth
    annotated = metrics.annotated_rows(ground_truth)
    record = metrics.SupervisedRecord()
    failed, restart_at = False, 0
    for index, path in enumerate(sequence.frames):
        if failed and not (index >= restart_at and annotated[index]):
            record.entries.append([metrics.SKIPPED])
            continue
        with Image.open(path) as image:
            image = image.convert("RGB")
        if index == 0 or failed:
            tracker.init(image, ground_truth[index])
            record.entries.append([metrics.INIT])
            failed = False
            continue
        box = tracker.update(image)
        if annotated[index] and metrics.iou(box, ground_truth[index], image_size, bound="intersect")[0] <= 0:
            failed, restart_at = True, index + metrics.VOT_REINIT_DELAY
            record.entries.append([metrics.FAILURE])
        else:
            record.entries.append(list(box))
    return record


def run_trackers(trackers, sequences: list[Sequence], files: ResultFiles, supervised: bool, log) -> None:
    """Record every tracker on every sequence that has no result yet."""
    for tracker in trackers:
        for number, sequence in enumerate(sequences, start=1):
            where = f"{tracker.name} {number}/{len(sequences)} {sequence.name}"
            if files.boxes_path(tracker.name, sequence.name).is_file():
                log.info(f"{where}: result found, skipped")
            else:
                start = time.perf_counter()
                boxes, times = tracker.track(sequence.frames, sequence.init_box)
                files.write(tracker.name, sequence, boxes, times)
                log.info(f"{where}: {len(sequence)} frames in {time.perf_counter() - start:.1f}s "
                         f"({(len(times) - 1) / max(np.sum(times[1:]), 1e-9):.1f} frames/s)")
            if supervised and not files.supervised_path(tracker.name, sequence.name).is_file():
                record = run_supervised(tracker, sequence, sequence.image_size())
                files.write_supervised(tracker.name, sequence.name, record)


def write_ground_truth(out_dir: Path, sequences: list[Sequence]) -> None:
    for sequence in sequences:
        rows = metrics.annotated_rows(sequence.ground_truth)
        folder = out_dir / "groundtruth"
        boxes = format_rows(sequence.ground_truth[rows], "%.6f")
        write_text_atomically(folder / f"{sequence.name}.txt", boxes)
        frames = [path for path, keep in zip(sequence.frames, rows) if keep]
        write_text_atomically(folder / f"{sequence.name}_frames.txt", "".join(f"{p}\n" for p in frames))


def build_report(tracker_names: list[str], sequences: list[Sequence], files: ResultFiles,
                 supervised: bool, context: dict) -> dict:
    trackers = {}
    for name in tracker_names:
        results = {s.name: files.read(name, s.name) for s in sequences}
        records = {s.name: files.read_supervised(name, s.name) for s in sequences} if supervised else None
        trackers[name] = score_tracker(sequences, results, records)
    model, baseline = tracker_names[0], tracker_names[-1]
    summary = {name: headline(scores) for name, scores in trackers.items()}
    return {
        **context,
        "sequences": len(sequences),
        "frames": int(sum(len(s) for s in sequences)),
        "summary": summary,
        "gain_over_no_motion": {key: summary[model][key] - summary[baseline][key]
                                for key in ("auc", "precision_20px", "success_rate_0.5", "ao")},
        "trackers": trackers,
        "definitions": DEFINITIONS,
    }


def evaluate(tracker, sequences: list[Sequence], out_dir, *, layout: str = "otb", supervised: bool = True,
             context: dict | None = None, log=None) -> dict:
    """Run ``tracker`` and the no-motion baseline over ``sequences``, write
    results, report.json and the plots into ``out_dir``; returns the report.
    Usable from training to score a model on the validation videos."""
    log = log or setup_logging(True, 0)
    context = context or {}
    out_dir = Path(out_dir)
    files = ResultFiles(out_dir, layout)
    baseline = NoMotionTracker()
    if tracker.name == baseline.name:
        raise ValueError(f"the tracker's name must differ from the baseline's ({baseline.name!r})")
    write_ground_truth(out_dir, sequences)
    scorable = any(metrics.annotated_rows(s.ground_truth).sum() >= 2 for s in sequences)
    run_trackers([tracker, baseline], sequences, files, supervised and scorable, log)
    if not scorable:
        log.warning("no sequence has ground truth beyond its first frame (a test split?): results are "
                    f"recorded in {files.root} for submission, nothing to score")
        return {}
    report = build_report([tracker.name, baseline.name], sequences, files, supervised, context)
    write_text_atomically(out_dir / REPORT_FILE, json.dumps(report, indent=2) + "\n")
    words = (str(context.get("dataset", "")).upper(), context.get("split") or "")
    title = f"{' '.join(w for w in words if w)} ({len(sequences)} sequences)".strip()
    plot_curves(report["trackers"], title, out_dir / SUCCESS_PLOT, out_dir / PRECISION_PLOT)
    return report


def render_track(sequence: Sequence, boxes: np.ndarray, tracker_name: str, video_path: Path,
                 gif_path: Path | None = None, fps: float = DEFAULT_FPS) -> None:
    """Draw a recorded track (one box per frame) and the ground truth (on
    annotated frames) over the sequence's frames."""
    video_path.parent.mkdir(parents=True, exist_ok=True)
    writer, gif_frames = None, []
    annotated = metrics.annotated_rows(sequence.ground_truth)
    try:
        for index, (path, box) in enumerate(zip(sequence.frames, boxes)):
            with Image.open(path) as image:
                frame = np.array(image.convert("RGB"))
            if annotated[index]:
                draw_box(frame, sequence.ground_truth[index], TRUTH_COLOUR)
            draw_box(frame, box)
            draw_label(frame, f"#{index} {tracker_name}", colour=(255, 96, 64))
            draw_label(frame, "ground truth", line=1, colour=TRUTH_COLOUR)
            if writer is None:
                writer = VideoWriter(video_path, fps, frame.shape[1], frame.shape[0])
            writer.write(frame)
            if gif_path is not None:
                gif_frames.append(Image.fromarray(frame))
    finally:
        if writer is not None:
            writer.close()
    if gif_frames:
        gif_frames[0].save(gif_path, save_all=True, append_images=gif_frames[1:], loop=0,
                           duration=round(1000 / fps))


def file_sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 23):
            digest.update(chunk)
    return digest.hexdigest()


def claim_output_dir(out_dir: Path, identity: dict, discard_stale: bool, log) -> None:
    """Make sure the results already in ``out_dir`` (resumed, not recomputed)
    come from the same checkpoint and data; then record ``identity``."""
    state_path = out_dir / STATE_FILE
    previous = json.loads(state_path.read_text()) if state_path.is_file() else None
    if previous is not None and previous != identity:
        described = ", ".join(f"{key} {previous.get(key)!r} (now {value!r})"
                              for key, value in identity.items() if previous.get(key) != value)
        if not discard_stale:
            raise UserError(f"{out_dir} holds results of another run: {described}. Use another --out, or "
                            "--discard_stale to delete them")
        for name in RUN_OUTPUTS:
            target = out_dir / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
        log.warning(f"deleted the results of another run in {out_dir}: {described}")
    write_text_atomically(state_path, json.dumps(identity, indent=2) + "\n")


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Evaluate a GOTURN checkpoint on ALOV, OTB or GOT-10k.")
    parser.add_argument("--checkpoint", required=True, help="GOTURN checkpoint (this project's or a "
                        "goturn-pytorch .ckpt)")
    parser.add_argument("--data_path", required=True, help="ALOV: the folder holding images/ and gt/ "
                        "(or its parent); OTB: the folder of sequence folders; GOT-10k: the folder of splits")
    parser.add_argument("--dataset", required=True, choices=DATASETS)
    parser.add_argument("--split", default=None, help="ALOV: val (default, training's held-out videos), "
                        "train or all; GOT-10k: val (default), test or train; ignored for OTB")
    parser.add_argument("--val_fraction", type=float, default=ALOV_VAL_FRACTION,
                        help="ALOV videos held out per category, as in training")
    parser.add_argument("--out", required=True, help="results, report.json and plots go here")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | npu[:N]")
    parser.add_argument("--name", default="GOTURN", help="tracker name in result paths and the report")
    add_bool_flag(parser, "--supervised", default=True,
                  help="also run the VOT-style supervised protocol (failures and re-initialisation)")
    parser.add_argument("--videos", type=int, default=0,
                        help="render the tracks of the first N sequences to OUT/videos (mp4 and gif)")
    add_bool_flag(parser, "--discard_stale", default=False,
                  help="when OUT holds results of another checkpoint or data set, delete them instead "
                       "of stopping")
    return parser


def main(args) -> dict:
    log = setup_logging(True, 0)
    if args.dataset == "alov":
        sequences = read_alov(args.data_path, args.split or "val", args.val_fraction)
    else:
        sequences = read_sequences(args.dataset, args.data_path, args.split)
    log.info(f"{args.dataset}: {len(sequences)} sequences, {sum(len(s) for s in sequences)} frames")
    tracker = Tracker(args.checkpoint, device=args.device, name=args.name)
    split = args.split or ("val" if args.dataset != "otb" else None)
    identity = {"checkpoint_sha256": file_sha256(args.checkpoint), "dataset": args.dataset, "split": split,
                "data_path": str(Path(args.data_path).resolve()), "tracker": args.name,
                **({"val_fraction": args.val_fraction} if args.dataset == "alov" else {})}
    claim_output_dir(Path(args.out), identity, args.discard_stale, log)
    context = {"dataset": args.dataset, "split": split, "data_path": str(args.data_path),
               "checkpoint": str(args.checkpoint), "checkpoint_sha256": identity["checkpoint_sha256"],
               "device": str(tracker.device)}
    layout = "got10k" if args.dataset == "got10k" else "otb"
    report = evaluate(tracker, sequences, args.out, layout=layout, supervised=args.supervised,
                      context=context, log=log)
    for name, numbers in report.get("summary", {}).items():
        log.info(f"{name}: " + ", ".join(f"{key} {value:.3f}" for key, value in numbers.items()))
    if report:
        log.info(f"report: {Path(args.out) / REPORT_FILE}; plots: {SUCCESS_PLOT}, {PRECISION_PLOT}")
    files = ResultFiles(args.out, layout)
    for sequence in sequences[:args.videos]:
        video = Path(args.out) / "videos" / f"{sequence.name}.mp4"
        boxes = np.loadtxt(files.track_path(tracker.name, sequence.name), delimiter=",", ndmin=2)
        render_track(sequence, boxes, tracker.name, video, video.with_suffix(".gif"))
        log.info(f"video: {video} (and .gif)")
    return report


if __name__ == "__main__":
    run_cli(main, get_args_parser())
