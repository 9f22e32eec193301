"""Run trackers over benchmark sequences into result files, and score them from the files.

The result layout (GOT-10k toolkit formats) is described in goturn/tracking/evaluate.py, the
command line built on this module.
"""

import hashlib
import json
import shutil
import time
from pathlib import Path

import numpy as np
from PIL import Image

from common.atomic import write_json_atomically, write_text_atomically
from common.errors import UserError
from common.logs import setup_logging
from goturn.tracking import metrics
from goturn.tracking.report import DEFINITIONS, headline, plot_curves, score_tracker
from goturn.tracking.sequences import Sequence
from goturn.tracking.tracker import NoMotionTracker

REPORT_FILE = "report.json"
STATE_FILE = "evaluation.json"
# What --discard_stale deletes: everything derived from one checkpoint's run.
RUN_OUTPUTS = (
    "results",
    "tracks",
    "groundtruth",
    "videos",
    REPORT_FILE,
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
                log.info(
                    f"{where}: {len(sequence)} frames in {time.perf_counter() - start:.1f}s "
                    f"({(len(times) - 1) / max(np.sum(times[1:]), 1e-9):.1f} frames/s)"
                )
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


def build_report(
    tracker_names: list[str], sequences: list[Sequence], files: ResultFiles, supervised: bool, context: dict
) -> dict:
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
        "gain_over_no_motion": {
            key: summary[model][key] - summary[baseline][key]
            for key in ("auc", "precision_20px", "success_rate_0.5", "ao")
        },
        "trackers": trackers,
        "definitions": DEFINITIONS,
    }


def evaluate(
    tracker,
    sequences: list[Sequence],
    out_dir,
    *,
    layout: str = "otb",
    supervised: bool = True,
    context: dict | None = None,
    log=None,
) -> dict:
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
        log.warning(
            "no sequence has ground truth beyond its first frame (a test split?): results are "
            f"recorded in {files.root} for submission, nothing to score"
        )
        return {}
    report = build_report([tracker.name, baseline.name], sequences, files, supervised, context)
    write_json_atomically(out_dir / REPORT_FILE, report)
    words = (str(context.get("dataset", "")).upper(), context.get("split") or "")
    title = f"{' '.join(w for w in words if w)} ({len(sequences)} sequences)".strip()
    plot_curves(report["trackers"], title, out_dir / SUCCESS_PLOT, out_dir / PRECISION_PLOT)
    return report


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
