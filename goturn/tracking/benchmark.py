"""Run trackers over benchmark sequences into result files, and score them from the files.

The result layout (GOT-10k toolkit formats) is described in goturn/tracking/evaluate.py, the
command line built on this module.
"""

import json
import multiprocessing
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from common.atomic import write_json_atomically, write_text_atomically
from common.errors import UserError
from common.logs import setup_logging
from goturn.tracking import metrics
from goturn.tracking.baselines import NoMotionTracker
from goturn.tracking.report import DEFINITIONS, compare, headline, markdown_report, plot_curves, score_tracker
from goturn.tracking.sequences import Sequence

REPORT_FILE = "report.json"
MARKDOWN_FILE = "report.md"
STATE_FILE = "evaluation.json"
# What --discard_stale deletes: everything derived from one checkpoint's run.
RUN_OUTPUTS = (
    "results",
    "tracks",
    "groundtruth",
    "videos",
    REPORT_FILE,
    MARKDOWN_FILE,
    "success_plot.png",
    "precision_plot.png",
)
SUCCESS_PLOT = "success_plot.png"
PRECISION_PLOT = "precision_plot.png"


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

    def scores_path(self, tracker: str, sequence: str) -> Path:
        """The tracker's lost-target score on every frame, beside its seconds per frame."""
        if self.layout == "got10k":
            return self.root / tracker / sequence / f"{sequence}_score.txt"
        return self.root / tracker / "scores" / f"{sequence}_score.txt"

    def supervised_path(self, tracker: str, sequence: str) -> Path:
        return self.root / tracker / "baseline" / sequence / f"{sequence}_001.txt"

    def track_path(self, tracker: str, sequence: str) -> Path:
        return self.tracks / tracker / f"{sequence}.txt"

    def write(self, tracker: str, sequence: Sequence, boxes, times, scores=None) -> None:
        """``boxes``: one per frame; the result file keeps the annotated rows, or every row where
        only the first is annotated (GOT-10k's test split: the files go to its server, which
        wants one box per frame). ``scores`` (one per frame) are written when the tracker has
        any (a separate file: the box files stay in the toolkit's format)."""
        rows = metrics.annotated_rows(sequence.ground_truth)
        if rows.sum() < 2:
            rows[:] = True
        name = sequence.name
        # The result file last: it marks the sequence as finished.
        write_text_atomically(self.track_path(tracker, name), format_rows(boxes, "%.3f"))
        write_text_atomically(self.times_path(tracker, name), "".join(f"{t:.8f}\n" for t in times))
        if scores is not None and np.isfinite(scores).any():
            write_text_atomically(self.scores_path(tracker, name), "".join(f"{v:.6f}\n" for v in scores))
        write_text_atomically(self.boxes_path(tracker, name), format_rows(np.asarray(boxes)[rows], "%.3f"))

    def read(self, tracker: str, sequence: str) -> tuple[np.ndarray, np.ndarray]:
        boxes = np.loadtxt(self.boxes_path(tracker, sequence), delimiter=",", ndmin=2)
        times_path = self.times_path(tracker, sequence)
        times = np.loadtxt(times_path, ndmin=1) if times_path.is_file() else np.zeros(len(boxes))
        return boxes, times

    def read_scores(self, tracker: str, sequence: str) -> np.ndarray | None:
        """The per-frame scores, or None when the tracker wrote none."""
        path = self.scores_path(tracker, sequence)
        return np.loadtxt(path, ndmin=1) if path.is_file() else None

    def write_supervised(self, tracker: str, sequence: str, record: metrics.SupervisedRecord) -> None:
        write_text_atomically(self.supervised_path(tracker, sequence), "\n".join(record.lines()) + "\n")

    def read_supervised(self, tracker: str, sequence: str) -> metrics.SupervisedRecord:
        lines = self.supervised_path(tracker, sequence).read_text().splitlines()
        return metrics.SupervisedRecord.from_lines(lines)


def run_supervised(tracker, sequence: Sequence, image_size, plain_boxes=None) -> metrics.SupervisedRecord:
    """The VOT supervised protocol: on a failure (zero overlap with an
    annotated frame) wait ``VOT_REINIT_DELAY`` frames, then re-initialise
    from the ground truth (on the next annotated frame).

    ``plain_boxes`` (every frame's box of the plain run, started the same way on frame 0):
    the protocol's first segment is that run up to its first failure, so those frames are taken
    from it instead of being tracked a second time; tracking resumes at the re-initialisation."""
    ground_truth = sequence.ground_truth
    annotated = metrics.annotated_rows(ground_truth)
    record = metrics.SupervisedRecord()
    failed, restart_at, start = False, 0, 0
    if plain_boxes is not None:
        start = _first_segment(record, plain_boxes, ground_truth, annotated, image_size)
        if start == len(sequence.frames):
            return record
        failed, restart_at = True, start - 1 + metrics.VOT_REINIT_DELAY
    for index in range(start, len(sequence.frames)):
        if failed and not (index >= restart_at and annotated[index]):
            record.entries.append([metrics.SKIPPED])
            continue
        with Image.open(sequence.frames[index]) as image:
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


def _first_segment(record, plain_boxes, ground_truth, annotated, image_size) -> int:
    """Fill ``record`` with the plain run up to and including its first failure; returns the
    index of the frame after it (the number of frames when the run never failed)."""
    boxes = np.asarray(plain_boxes, dtype=np.float64).reshape(-1, 4)
    rows = np.flatnonzero(annotated[1 : len(boxes)]) + 1
    overlaps = metrics.iou(boxes[rows], ground_truth[rows], image_size, bound="intersect")
    failures = rows[overlaps <= 0]
    end = int(failures[0]) if len(failures) else len(boxes)
    record.entries.append([metrics.INIT])
    record.entries.extend(list(box) for box in boxes[1:end])
    if len(failures):
        record.entries.append([metrics.FAILURE])
        return end + 1
    return end


def run_tracker(
    tracker, sequences: list[Sequence], files: ResultFiles, supervised: bool, log, numbers=None
) -> None:
    """Record one tracker on every sequence that has no result yet. ``numbers``: (first, total),
    how the log numbers the sequences when they are part of a larger set."""
    first, total = numbers or (1, len(sequences))
    for number, sequence in enumerate(sequences, start=first):
        where = f"{tracker.name} {number}/{total} {sequence.name}"
        if files.boxes_path(tracker.name, sequence.name).is_file():
            log.info(f"{where}: result found, skipped")
        else:
            start = time.perf_counter()
            boxes, times = tracker.track(sequence.frames, sequence.init_box)
            # Any GOT-10k toolkit tracker runs; ours also leave their per-frame scores.
            files.write(tracker.name, sequence, boxes, times, getattr(tracker, "track_scores", None))
            log.info(
                f"{where}: {len(sequence)} frames in {time.perf_counter() - start:.1f}s "
                f"({(len(times) - 1) / max(np.sum(times[1:]), 1e-9):.1f} frames/s)"
            )
        if supervised and not files.supervised_path(tracker.name, sequence.name).is_file():
            plain = np.loadtxt(files.track_path(tracker.name, sequence.name), delimiter=",", ndmin=2)
            record = run_supervised(tracker, sequence, sequence.image_size(), plain)
            files.write_supervised(tracker.name, sequence.name, record)


def _run_in_worker(tracker, sequence: Sequence, number: int, total: int, files, supervised: bool) -> None:
    run_tracker(tracker, [sequence], files, supervised, setup_logging(True, 0), numbers=(number, total))


def _one_thread_worker() -> None:
    """Worker processes run one thread each: they share the cores with each other."""
    cv2.setNumThreads(1)
    torch.set_num_threads(1)


def run_trackers(
    trackers, sequences: list[Sequence], files: ResultFiles, supervised: bool, log, jobs: int = 1
) -> None:
    """Record every tracker on every sequence that has no result yet. With ``jobs`` > 1 the
    trackers that mark themselves ``single_threaded`` (OpenCV's) run side by side in that many
    worker processes, one thread each, after the others (GOTURN, with all its threads) have run
    here: on a CPU, OpenCV's trackers take most of an evaluation's time. Each worker task is one
    tracker on one sequence, longest sequences first, so the workers finish together (one
    tracker per worker left the slowest, MIL, running alone at the end)."""
    in_workers = [t for t in trackers if getattr(t, "single_threaded", False)] if jobs > 1 else []
    for tracker in trackers:
        if tracker not in in_workers:
            run_tracker(tracker, sequences, files, supervised, log)
    if not in_workers:
        return
    context = multiprocessing.get_context("spawn")  # no fork of a process holding thread pools
    log.info(f"{', '.join(t.name for t in in_workers)}: in {jobs} worker processes, one thread each")
    numbered = sorted(enumerate(sequences, start=1), key=lambda item: -len(item[1]))
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_one_thread_worker) as pool:
        runs = [
            pool.submit(_run_in_worker, tracker, sequence, number, len(sequences), files, supervised)
            for number, sequence in numbered
            for tracker in in_workers
        ]
        for run in runs:
            run.result()  # a worker's error is raised here


def write_ground_truth(out_dir: Path, sequences: list[Sequence]) -> None:
    for sequence in sequences:
        rows = metrics.annotated_rows(sequence.ground_truth)
        folder = out_dir / "groundtruth"
        boxes = format_rows(sequence.ground_truth[rows], "%.6f")
        write_text_atomically(folder / f"{sequence.name}.txt", boxes)
        frames = [path for path, keep in zip(sequence.frames, rows) if keep]
        write_text_atomically(folder / f"{sequence.name}_frames.txt", "".join(f"{p}\n" for p in frames))


def build_report(
    tracker_names: list[str], sequences: list[Sequence], files: ResultFiles, supervised: bool, context: dict
) -> dict:
    """Scores of every tracker from its files; the first is the model, the others its baselines."""
    trackers = {}
    for name in tracker_names:
        results = {s.name: files.read(name, s.name) for s in sequences}
        records = {s.name: files.read_supervised(name, s.name) for s in sequences} if supervised else None
        scores = {s.name: files.read_scores(name, s.name) for s in sequences}
        scores = scores if all(v is not None for v in scores.values()) else None
        trackers[name] = score_tracker(sequences, results, records, scores)
    model, baselines = tracker_names[0], tracker_names[1:]
    summary = {name: headline(scores) for name, scores in trackers.items()}
    report = {
        **context,
        "sequences": len(sequences),
        "frames": int(sum(len(s) for s in sequences)),
        "model": model,
        "summary": summary,
        "comparison": {baseline: compare(summary, model, baseline) for baseline in baselines},
    }
    if NoMotionTracker.name in baselines:
        report["gain_over_no_motion"] = {
            key: value
            for key, value in report["comparison"][NoMotionTracker.name].items()
            if key not in ("speed_ratio", "statement")
        }
    return {**report, "trackers": trackers, "definitions": DEFINITIONS}


def evaluate(
    tracker,
    sequences: list[Sequence],
    out_dir,
    *,
    baselines: list | None = None,
    layout: str = "otb",
    supervised: bool = True,
    context: dict | None = None,
    log=None,
    jobs: int = 1,
) -> dict:
    """Run ``tracker`` and its ``baselines`` (default: no motion) over ``sequences``, write
    results, report.json, report.md and the plots into ``out_dir``; returns the report.
    ``jobs``: processes for the single-threaded baselines (see ``run_trackers``).
    Usable from training to score a model on the validation videos."""
    log = log or setup_logging(True, 0)
    context = context or {}
    out_dir = Path(out_dir)
    files = ResultFiles(out_dir, layout)
    baselines = [NoMotionTracker()] if baselines is None else list(baselines)
    names = [tracker.name] + [baseline.name for baseline in baselines]
    if len(set(names)) != len(names):
        raise ValueError(f"tracker names must differ (result folders are named after them): {names}")
    write_ground_truth(out_dir, sequences)
    scorable = any(metrics.annotated_rows(s.ground_truth).sum() >= 2 for s in sequences)
    run_trackers([tracker, *baselines], sequences, files, supervised and scorable, log, jobs)
    if not scorable:
        log.warning(
            "no sequence has ground truth beyond its first frame (a test split?): results are "
            f"recorded in {files.root} for submission, nothing to score"
        )
        return {}
    report = build_report(names, sequences, files, supervised, context)
    write_json_atomically(out_dir / REPORT_FILE, report)
    write_text_atomically(out_dir / MARKDOWN_FILE, markdown_report(report))
    words = (str(context.get("dataset", "")).upper(), context.get("split") or "")
    title = f"{' '.join(w for w in words if w)} ({len(sequences)} sequences)".strip()
    plot_curves(report["trackers"], title, out_dir / SUCCESS_PLOT, out_dir / PRECISION_PLOT)
    return report


def claim_output_dir(out_dir: Path, identity: dict, discard_stale: bool, log) -> None:
    """Make sure the results already in ``out_dir`` (resumed, not recomputed)
    come from the same checkpoint and data; then record ``identity``."""
    state_path = out_dir / STATE_FILE
    previous = json.loads(state_path.read_text()) if state_path.is_file() else None
    if previous is not None and previous != identity:
        described = ", ".join(
            f"{key} {previous.get(key)!r} (now {value!r})"
            for key, value in identity.items()
            if previous.get(key) != value
        )
        if not discard_stale:
            raise UserError(
                f"{out_dir} holds results of another run: {described}. Use another --out, or "
                "--discard_stale to delete them"
            )
        for name in RUN_OUTPUTS:
            target = out_dir / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
        log.warning(f"deleted the results of another run in {out_dir}: {described}")
    write_json_atomically(state_path, identity)
