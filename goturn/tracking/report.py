"""Scores of recorded tracking results, and the success and precision plots.

Everything here reads the result files (``goturn.tracking.evaluate`` writes them), never
in-memory boxes, so the report says exactly what the files say and anyone can
recompute it, e.g. with the GOT-10k toolkit.
"""

import numpy as np
from matplotlib.figure import Figure

from goturn.tracking import metrics
from goturn.tracking.sequences import Sequence
from goturn.tracking.tracker import NoMotionTracker

BASELINE = NoMotionTracker.name
DEFINITIONS = {
    "otb": "OTB one-pass evaluation as the GOT-10k toolkit's ExperimentOTB: first result row set to the "
    "ground truth; per sequence success = fraction of frames with IoU > t, t in linspace(0, 1, 21), "
    "precision = fraction with centre error <= t px, t = 0..50; curves averaged over sequences; "
    "auc = mean success, precision_20px at 20 px, success_rate_0.5 at t = 0.5",
    "otb_first_frame_excluded": "the same with the first (initialisation) frame left out",
    "got10k": "ExperimentGOT10k: IoU of every frame but the first, boxes clipped to the image, frames "
    "with the target visible; pooled over all sequences; ao = mean IoU, sr_t = fraction > t",
    "vot": "supervised run: failure when IoU (boxes cut to the image) is 0, re-initialised on the "
    "first annotated frame 5 or more frames later; accuracy = mean IoU of tracked frames outside "
    "the 10 frames starting at each (re)initialisation, pooled over sequences",
    "alov": "F-score per video (TP: IoU >= t; a miss is one FP and one FN), first frame excluded, "
    "averaged over videos",
    "speed": "fps = frames tracked / seconds spent in update() (image decoding excluded); "
    "toolkit_speed_fps = the toolkit's mean over sequences of mean(1 / seconds per frame)",
    "rows": "result files hold one row per annotated frame (ALOV annotates about every 5th frame), "
    "row 0 being the initialisation frame; tracks/ holds every frame",
}


def score_tracker(sequences: list[Sequence], results: dict, supervised: dict | None) -> dict:
    """The scores of one tracker. ``results``: sequence name -> (boxes, one
    per annotated frame; seconds per frame); ``supervised``: sequence name -> SupervisedRecord, or
    None when no supervised run was made."""
    ope, ope_excluded, got10k_ious, alov_ious, per_sequence = [], [], [], [], {}
    update_frames, update_seconds, toolkit_speeds = 0, 0.0, []
    vot_per_sequence, total_frames = [], 0
    for sequence in sequences:
        boxes, times = results[sequence.name]
        rows = metrics.annotated_rows(sequence.ground_truth)
        ground_truth = sequence.ground_truth[rows]
        scored = int(rows.sum())
        update_frames += len(times) - 1
        update_seconds += float(np.sum(times[1:]))
        toolkit_speeds.append(metrics.speed_fps(times))
        if scored < 2:
            continue  # only the initialisation box is known (GOT-10k test split): nothing to score
        if len(boxes) != scored:
            raise ValueError(
                f"the result of {sequence.name} has {len(boxes)} rows, its ground truth "
                f"{scored}: a result of another data set or split? Delete it to recompute"
            )
        curves = metrics.ope_curves(boxes, ground_truth)
        ope.append(curves)
        ope_excluded.append(metrics.ope_curves(boxes, ground_truth, first_frame="exclude"))
        image_size = sequence.image_size()
        visible = sequence.visible[rows] if sequence.visible is not None else None
        seq_ious = metrics.got10k_ious(boxes, ground_truth, image_size, visible)
        got10k_ious.append(seq_ious)
        alov_ious.append(metrics.iou(boxes[1:], ground_truth[1:]))
        entry = {
            "frames": len(sequence),
            "scored_frames": scored - 1,
            "auc": curves.auc,
            "precision_20px": curves.precision_at_20,
            "ao": float(np.mean(seq_ious)) if seq_ious.size else None,
        }
        if supervised is not None:
            vot = metrics.vot_scores(supervised[sequence.name], sequence.ground_truth, image_size)
            vot_per_sequence.append(vot)
            total_frames += len(sequence)
            entry["failures"] = vot["failures"]
        per_sequence[sequence.name] = entry
    if not ope:
        raise ValueError("no sequence has ground truth beyond its first frame: nothing to score")
    seconds = update_seconds
    scores = {
        "otb": metrics.ope_summary(ope),
        "otb_first_frame_excluded": metrics.ope_summary(ope_excluded),
        "got10k": metrics.got10k_summary(got10k_ious),
        "alov": metrics.alov_summary(alov_ious),
        "speed": {
            "fps": update_frames / seconds if seconds > 0 else -1.0,
            "toolkit_speed_fps": float(np.mean([s for s in toolkit_speeds if s > 0] or [-1.0])),
        },
        "per_sequence": per_sequence,
    }
    if supervised is not None:
        scores["vot"] = metrics.vot_summary(vot_per_sequence, total_frames)
    return scores


def headline(scores: dict) -> dict:
    """The few numbers a reader compares first."""
    return {
        "auc": scores["otb"]["auc"],
        "precision_20px": scores["otb"]["precision_20px"],
        "success_rate_0.5": scores["otb"]["success_rate_0.5"],
        "ao": scores["got10k"]["ao"],
        "sr_0.5": scores["got10k"]["sr_0.5"],
        "sr_0.75": scores["got10k"]["sr_0.75"],
        **(
            {"vot_accuracy": scores["vot"]["accuracy"], "vot_failures": scores["vot"]["failures"]}
            if "vot" in scores
            else {}
        ),
        "fps": scores["speed"]["fps"],
    }


def plot_curves(trackers: dict, title: str, success_path, precision_path) -> None:
    """OTB-style success and precision plots, one line per tracker, the
    legend giving AUC and precision at 20 px."""
    order = sorted(trackers, key=lambda name: trackers[name]["otb"]["auc"], reverse=True)
    for path, key, thresholds, score, label, xlabel in (
        (success_path, "success_curve", metrics.SUCCESS_THRESHOLDS, "auc", "AUC", "Overlap threshold (IoU)"),
        (
            precision_path,
            "precision_curve",
            metrics.PRECISION_THRESHOLDS,
            "precision_20px",
            "P@20px",
            "Location error threshold (px)",
        ),
    ):
        # A bare Figure renders without pyplot's global state or a display.
        figure = Figure(figsize=(5.5, 4.2), dpi=120)
        axes = figure.subplots()
        for name in order:
            otb = trackers[name]["otb"]
            style = {"color": "grey", "linestyle": "--"} if name == BASELINE else {}
            axes.plot(thresholds, otb[key], linewidth=2, label=f"{name} [{label} {otb[score]:.3f}]", **style)
        if key == "precision_curve":
            axes.axvline(metrics.PRECISION_AT_PX, color="grey", linestyle=":", linewidth=1)
        axes.set(
            xlabel=xlabel,
            ylabel="Success rate" if key == "success_curve" else "Precision",
            xlim=(thresholds[0], thresholds[-1]),
            ylim=(0, 1.02),
            title=f"{'Success' if key == 'success_curve' else 'Precision'} plot: {title}",
        )
        axes.grid(True, alpha=0.4)
        axes.legend(loc="lower left" if key == "success_curve" else "lower right")
        figure.tight_layout()
        figure.savefig(path)
