"""Scores of recorded tracking results, the comparison of GOTURN with its peers, and the
success and precision plots.

Everything here reads the result files (``goturn.tracking.evaluate`` writes them), never
in-memory boxes, so the report says exactly what the files say and anyone can
recompute it, e.g. with the GOT-10k toolkit.
"""

import numpy as np
from matplotlib.figure import Figure

from goturn.tracking import metrics
from goturn.tracking.baselines import NoMotionTracker
from goturn.tracking.sequences import Sequence

BASELINE = NoMotionTracker.name
# The headline numbers a comparison takes differences of.
COMPARED = ("auc", "precision_20px", "success_rate_0.5", "ao")
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
    "toolkit_speed_fps = the toolkit's mean over sequences of mean(1 / seconds per frame); GOTURN runs "
    "with torch's threads, OpenCV's trackers on one thread each (with --jobs > 1 side by side, one per "
    "core)",
    "rows": "result files hold one row per annotated frame (ALOV annotates about every 5th frame), "
    "row 0 being the initialisation frame; tracks/ holds every frame",
    "lost_target": "the tracker's per-frame score (GOTURN: its lost-target score, report['policy']['score']; "
    "OpenCV: 1 when update() reports the target found, else 0) on the annotated frames after the first: "
    "roc_auc = probability that a frame with IoU >= 0.5 scores higher than one with IoU < 0.1 (ties "
    "half), pooled over sequences; frames in between are left out",
    "comparison": "per baseline, the model's headline number minus the baseline's (positive: the model "
    "is better) and speed_ratio = model fps / baseline fps",
}


def score_tracker(
    sequences: list[Sequence], results: dict, supervised: dict | None, scores: dict | None = None
) -> dict:
    """The scores of one tracker. ``results``: sequence name -> (boxes, one
    per annotated frame; seconds per frame); ``supervised``: sequence name -> SupervisedRecord, or
    None when no supervised run was made; ``scores``: sequence name -> the tracker's score on
    every frame, or None (a tracker without a lost-target signal)."""
    ope, ope_excluded, got10k_ious, alov_ious, per_sequence = [], [], [], [], {}
    lost_ious, lost_scores = [], []
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
        if scores is not None:
            # The annotated frames after the first, where the target is visible.
            frame_scores = np.asarray(scores[sequence.name], dtype=np.float64)[rows][1:]
            shown = visible[1:] if visible is not None else np.ones(len(frame_scores), dtype=bool)
            lost_ious.append(alov_ious[-1][shown])
            lost_scores.append(frame_scores[shown])
            entry["lost_target"] = metrics.lost_target_summary(lost_ious[-1], lost_scores[-1])
        per_sequence[sequence.name] = entry
    if not ope:
        raise ValueError("no sequence has ground truth beyond its first frame: nothing to score")
    seconds = update_seconds
    summary = {
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
        summary["vot"] = metrics.vot_summary(vot_per_sequence, total_frames)
    if lost_scores:
        summary["lost_target"] = metrics.lost_target_summary(
            np.concatenate(lost_ious), np.concatenate(lost_scores)
        )
    return summary


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
        **({"lost_target_roc_auc": scores["lost_target"]["roc_auc"]} if "lost_target" in scores else {}),
    }


def compare(summary: dict, model: str, baseline: str) -> dict:
    """What ``model`` adds over ``baseline``: differences of the headline numbers (positive: the
    model is better), the speed ratio, and a sentence saying it."""
    ours, theirs = summary[model], summary[baseline]
    gains = {key: ours[key] - theirs[key] for key in COMPARED}
    # No motion costs nothing per frame: a speed ratio against it means nothing.
    ratio = ours["fps"] / theirs["fps"] if baseline != BASELINE and theirs["fps"] > 0 else None
    words = [
        f"AUC {ours['auc']:.3f} vs {theirs['auc']:.3f} ({gains['auc']:+.3f})",
        f"precision@20px {ours['precision_20px']:.3f} vs {theirs['precision_20px']:.3f}",
    ]
    if ratio is not None:
        words.append(f"{ratio:.2f}x its frames/s ({ours['fps']:.1f} vs {theirs['fps']:.1f})")
    ours_roc, theirs_roc = ours.get("lost_target_roc_auc"), theirs.get("lost_target_roc_auc")
    if ours_roc is not None:
        against = f"{theirs_roc:.3f}" if theirs_roc is not None else "none"
        words.append(f"lost-target ROC AUC {ours_roc:.3f} vs {against}")
    return {**gains, "speed_ratio": ratio, "statement": f"{model} over {baseline}: " + "; ".join(words)}


def markdown_report(report: dict) -> str:
    """report.json's summary and comparisons as Markdown tables (report.md)."""
    summary, model = report["summary"], report["model"]
    lines = [
        f"# Tracking report: {report.get('dataset', '')} {report.get('split') or ''}".rstrip(),
        "",
        f"{report['sequences']} sequences, {report['frames']} frames; checkpoint "
        f"`{report.get('checkpoint', '')}` on {report.get('device', '')} ({report.get('precision', '')}).",
        "",
        "| tracker | AUC | precision@20px | success@0.5 | AO | frames/s | lost-target ROC AUC |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, numbers in summary.items():
        roc = numbers.get("lost_target_roc_auc")
        lines.append(
            f"| {name} | {numbers['auc']:.3f} | {numbers['precision_20px']:.3f} | "
            f"{numbers['success_rate_0.5']:.3f} | {numbers['ao']:.3f} | {numbers['fps']:.1f} | "
            f"{'-' if roc is None else f'{roc:.3f}'} |"
        )
    lines += ["", f"## What {model} adds", ""]
    lines += [f"- {entry['statement']}" for entry in report["comparison"].values()]
    lines += ["", "Definitions: see `definitions` in report.json.", ""]
    return "\n".join(lines)


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
