"""The evaluation report: both accuracies with their definitions, per class, confusion matrices
(JSON and PNG), per-video scores, and the speed they were measured at."""

from dataclasses import asdict
from pathlib import Path

import numpy as np

from common.atomic import write_json_atomically
from common.errors import UserError
from glore.data.clips import ClipInput
from glore.inference.metrics import confusion_matrix, per_class_accuracy
from glore.inference.scoring import EvalResult, evaluate_videos


def build_report(
    result: EvalResult, class_names: list[str], *, processes: int = 1, device: str = "cpu", **context
) -> dict:
    """Everything a reader needs to trust the two accuracies: what each one is, over how many
    videos, per class, the confusion matrices, and the speed it was measured at."""
    num_classes = len(class_names)
    ok = result.readable
    levels = {
        "clip": (
            "clip accuracy (1 centred clip)",
            "one centred clip per video, centre crop",
            result.clip_logits,
            result.clip_accuracy(),
        ),
        "video": (
            f"video accuracy ({result.clips} clips x {result.crops} crops)",
            f"softmax averaged over {result.clips} evenly spaced clips x {result.crops} crops per video",
            result.video_scores,
            result.video_accuracy(),
        ),
    }
    report = {"context": context}
    per_class = {"class": class_names}
    for level, (name, description, scores, accuracy) in levels.items():
        confusion = confusion_matrix(result.labels[ok], scores[ok].argmax(axis=1), num_classes)
        report[level] = {
            "name": name,
            "description": description,
            **accuracy,
            "confusion": confusion.tolist(),
        }
        per_class[f"{level}_top1"] = [
            None if np.isnan(a) else round(100.0 * a, 4) for a in per_class_accuracy(confusion)
        ]
    report["clip"]["loss"] = round(result.clip_loss(), 4)
    per_class["videos"] = np.bincount(result.labels, minlength=num_classes).tolist()
    report["per_class"] = [dict(zip(per_class, row)) for row in zip(*per_class.values())]
    report["counts"] = {
        "videos": len(result.labels),
        "classes": num_classes,
        "unreadable": int((~ok).sum()),
        "clips_per_video": (1 + result.clips * result.crops) if result.clips * result.crops > 1 else 1,
        "clips_scored": result.clips_scored,
    }
    report["speed"] = {
        "clips_per_second": round(result.clips_per_second, 3),
        "seconds": round(result.seconds, 3),
        "processes": processes,
        "device": device,
    }
    return report


def plot_confusion(confusion: np.ndarray, class_names: list[str], title: str, path: Path) -> None:
    """Row-normalised confusion matrix (each row: where that class's videos went)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    num_classes = len(class_names)
    support = confusion.sum(axis=1, keepdims=True)
    rates = np.divide(confusion, support, out=np.zeros(confusion.shape), where=support > 0)
    side = min(30.0, max(5.0, 0.14 * num_classes + 3.0))
    fig, ax = plt.subplots(figsize=(side + 1.2, side))
    image = ax.imshow(rates, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    font = max(3.0, min(9.0, 300.0 / num_classes))
    ax.set_xticks(range(num_classes), class_names, rotation=90, fontsize=font)
    ax.set_yticks(range(num_classes), class_names, fontsize=font)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title, fontsize=10)
    if num_classes <= 20:
        for true, pred in zip(*np.nonzero(confusion)):
            colour = "white" if rates[true, pred] > 0.5 else "black"
            ax.text(
                pred, true, str(confusion[true, pred]), ha="center", va="center", color=colour, fontsize=8
            )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(result: EvalResult, class_names: list[str], out_dir, names: list[str], **context) -> dict:
    """report.json, scores.npz (per-video scores in list order) and one confusion-matrix PNG
    per accuracy level, in `out_dir`. Returns the report."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = build_report(result, class_names, **context)
    for level in ("clip", "video"):
        title = f"{report[level]['name']}: top-1 {report[level]['top1']:.2f}% of {len(names)} videos"
        plot_confusion(
            np.array(report[level]["confusion"]), class_names, title, out_dir / f"confusion_{level}.png"
        )
    write_json_atomically(out_dir / "report.json", report)  # NaN (no video of a class) as null
    np.savez_compressed(
        out_dir / "scores.npz",
        names=np.array(names),
        labels=result.labels,
        clip_logits=result.clip_logits,
        video_scores=result.video_scores,
        class_names=np.array(class_names),
    )
    return report


def evaluate_and_report(
    model,
    records,
    class_names,
    rt,
    clip_input: ClipInput,
    *,
    clips: int,
    crops: int,
    batch_size: int,
    workers: int,
    skip_bad: bool,
    print_freq: int,
    channels_last: bool = False,
    **context,
) -> dict:
    """Score `records` (all processes), then on rank 0 write the report into rt.output_dir and
    log both accuracies. Used by this module's command line and by glore.train --test-only."""
    too_high = [r for r in records if r.label >= len(class_names)]
    if too_high:
        raise UserError(
            f"video {too_high[0].name} has label {too_high[0].label}, but the model knows "
            f"{len(class_names)} classes"
        )
    rt.log.info(
        f"evaluating {len(records)} videos: one centred clip, then {clips} clips x {crops} crops per video"
    )
    result = evaluate_videos(
        model,
        records,
        rt,
        clip_input,
        clips=clips,
        crops=crops,
        batch_size=batch_size,
        workers=workers,
        skip_bad=skip_bad,
        print_freq=print_freq,
        channels_last=channels_last,
    )
    if not rt.is_main:
        return {}
    context = {**context, "clip_input": asdict(clip_input), "precision": rt.amp.precision}
    names = [r.name for r in records]
    report = write_report(
        result, class_names, rt.output_dir, names, processes=rt.world_size, device=str(rt.device), **context
    )
    for level in ("clip", "video"):
        entry = report[level]
        rt.log.info(
            f"{entry['name']}: top-1 {entry['top1']:.2f}%  top-5 {entry['top5']:.2f}%  "
            f"over {entry['videos']} videos"
        )
    if report["counts"]["unreadable"]:
        rt.log.warning(f"{report['counts']['unreadable']} unreadable video(s) counted as misses")
    rt.log.info(
        f"{result.clips_per_second:.1f} clips/s on {rt.world_size} process(es); report "
        f"{rt.output_dir / 'report.json'}, plots {rt.output_dir}/confusion_{{clip,video}}.png"
    )
    return report
