"""Evaluate a GloRe checkpoint on a whole test list: clip accuracy and video accuracy, exactly.

    python -m glore.evaluate --checkpoint C --data_path D [--split N] [--clips 10] [--crops 3] --out DIR
    torchrun --nproc_per_node 8 -m glore.evaluate ...        (same report, faster)

Two numbers that are often confused, both reported and labelled:
- clip accuracy: one centred clip per video, centre crop (what training's validation reports);
- video accuracy: the softmax averaged over K evenly spaced clips x M crops per video.

Exact under torchrun: the list is cut into fixed batches of whole videos that do not depend on
the number of processes, each process scores every world_size-th batch, and the per-video
scores are gathered by video index, so every video is counted once and the figures equal those
of one process. `evaluate_videos` is also what `glore.train` calls for its validation.
"""

import argparse
import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset

from common import distributed
from common.cli import add_runtime_args
from common.device import synchronize
from common.errors import UserError, run_cli
from common.logs import ProgressLogger
from common.runtime import setup_runtime
from glore.data.dataset import loader_worker_init
from glore.data.errors import DataError
from glore.data.frames import open_frames
from glore.data.layout import list_path, load_split
from glore.data.sampling import test_clip_indices
from glore.data.transforms import EvalTransform
from glore.metrics import average_softmax, confusion_matrix, per_class_accuracy, topk_hits
from glore.trained_model import ClipInput, load_trained_model, model_input

TOPK = (1, 5)


class VideoViews(Dataset):
    """Item i: every test view of video i as integers V x 3 x T x S x S, with its label and i.

    View 0 is the centred clip's centre crop (clip accuracy). When clips x crops > 1 the
    K x M views of the video score follow, clip-major. All views' frames are read in one call,
    so each frame is decoded once and a video file is decoded in one forward pass.
    """

    def __init__(
        self, records, clip_input: ClipInput, clips: int = 1, crops: int = 1, skip_bad: bool = False
    ):
        if clips < 1 or crops < 1:
            raise ValueError(f"clips and crops must be >= 1, got {clips} and {crops}")
        self.records = records
        self.input = clip_input
        self.clips, self.crops = clips, crops
        self.skip_bad = skip_bad
        self.centre = EvalTransform(clip_input.crop_size, clip_input.resize, num_crops=1)
        self.multi = EvalTransform(clip_input.crop_size, clip_input.resize, num_crops=crops)

    @property
    def multi_view(self) -> bool:
        return self.clips * self.crops > 1

    @property
    def views_per_video(self) -> int:
        return 1 + self.clips * self.crops if self.multi_view else 1

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int):
        record = self.records[index]
        try:
            views = self._views(record)
        except DataError:
            if not self.skip_bad:
                raise
            views = None  # scored as a miss, and named in the report
        return views, record.label, index

    def _views(self, record) -> torch.Tensor:
        spec = self.input
        with open_frames(record.path, record.num_frames) as source:
            clips = test_clip_indices(source.num_frames, 1, spec.clip_len, spec.interval)
            if self.multi_view:
                many = test_clip_indices(source.num_frames, self.clips, spec.clip_len, spec.interval)
                clips = np.concatenate([clips, many])
            frames = source.read(clips.ravel())
        frames = frames.reshape(len(clips), spec.clip_len, *frames.shape[1:])
        views = [self.centre(frames[0])]
        if self.multi_view:
            views += [self.multi(clip, crop) for clip in frames[1:] for crop in range(self.crops)]
        return torch.stack(views)


def collate_views(batch):
    """Stack the readable videos' views; keep every video's label and index."""
    readable = [views for views, _, _ in batch if views is not None]
    labels = torch.tensor([label for _, label, _ in batch])
    indices = torch.tensor([index for _, _, index in batch])
    ok = torch.tensor([views is not None for views, _, _ in batch])
    return (torch.stack(readable) if readable else None), labels, indices, ok


def shard_batches(num_videos: int, videos_per_batch: int, rank: int, world_size: int) -> list[list[int]]:
    """This process's batches: the list cut into consecutive batches of `videos_per_batch`
    videos (the same cut for any number of processes, so every video is always scored in the
    same company), dealt round-robin; nothing is padded or repeated."""
    starts = range(0, num_videos, videos_per_batch)
    batches = [list(range(s, min(s + videos_per_batch, num_videos))) for s in starts]
    return batches[rank::world_size]


@dataclass
class EvalResult:
    """Per-video scores in list order, gathered from every process."""

    labels: np.ndarray  # N
    clip_logits: np.ndarray  # N x C, the centred clip (NaN rows: unreadable videos)
    video_scores: np.ndarray  # N x C, averaged softmax over the K x M views
    readable: np.ndarray  # N bool
    clips: int
    crops: int
    clips_scored: int  # every view of every readable video, all processes together
    seconds: float  # wall time of the slowest process

    @property
    def clip_scores(self) -> np.ndarray:
        return torch.softmax(torch.from_numpy(self.clip_logits), dim=1).numpy()

    @property
    def clips_per_second(self) -> float:
        return self.clips_scored / self.seconds if self.seconds > 0 else 0.0

    def clip_accuracy(self) -> dict:
        return _accuracy(self.clip_logits, self.labels, self.readable)

    def video_accuracy(self) -> dict:
        return _accuracy(self.video_scores, self.labels, self.readable)

    def clip_loss(self) -> float:
        """Mean cross-entropy of the centred clips (readable videos only)."""
        logits = torch.from_numpy(self.clip_logits[self.readable])
        labels = torch.from_numpy(self.labels[self.readable])
        return float(torch.nn.functional.cross_entropy(logits, labels)) if len(labels) else float("nan")


def _accuracy(scores, labels, readable) -> dict:
    """Top-k accuracy in percent over the whole list: an unreadable video counts as a miss."""
    summary = {
        f"top{k}": 100.0 * int(topk_hits(scores[readable], labels[readable], k).sum()) / len(labels)
        for k in TOPK
    }
    summary["videos"] = len(labels)
    return summary


@torch.no_grad()
def evaluate_videos(
    model,
    records,
    rt,
    clip_input: ClipInput,
    *,
    clips: int = 1,
    crops: int = 1,
    batch_size: int = 8,
    workers: int = 0,
    skip_bad: bool = False,
    print_freq: int = 20,
    desc: str = "eval",
) -> EvalResult:
    """Score every video of `records` with `model` (plain or DDP-wrapped), on all processes.

    `batch_size` is the number of clips per forward pass; a batch holds whole videos (at least
    one). Collective: every process calls it with the same records and settings, and every
    process gets the whole result.
    """
    if isinstance(model, DistributedDataParallel):
        # DDP's forward syncs buffers collectively, but processes run different batch counts here.
        model = model.module
    was_training = model.training
    model.eval()
    dataset = VideoViews(records, clip_input, clips, crops, skip_bad)
    views = dataset.views_per_video
    batches = shard_batches(len(records), max(1, batch_size // views), rt.rank, rt.world_size)
    loader = DataLoader(
        dataset,
        batch_sampler=batches,
        num_workers=workers,
        collate_fn=collate_views,
        worker_init_fn=loader_worker_init,
        pin_memory=rt.device.type == "cuda",
    )
    progress = ProgressLogger(rt.log, len(batches), print_freq, desc, enabled=rt.is_main)

    scored, clip_logits, video_scores, unreadable = [], [], [], []
    start = time.perf_counter()
    for step, (inputs, _, indices, ok) in enumerate(loader, start=1):
        if inputs is not None:
            flat = model_input(inputs.flatten(0, 1), model, rt.device)
            with rt.autocast():
                logits = model(flat)
            logits = logits.float().cpu().view(inputs.shape[0], views, -1)
            scored.append(indices[ok])
            clip_logits.append(logits[:, 0])
            video_scores.append(average_softmax(logits[:, 1:] if views > 1 else logits))
        unreadable.append(indices[~ok])
        progress.update(step)
    progress.close()
    synchronize(rt.device)
    seconds = time.perf_counter() - start
    if was_training:
        model.train()

    local = [torch.cat(parts).numpy() if parts else None for parts in (scored, clip_logits, video_scores)]
    clip_all, video_all, readable = gather_by_index(
        len(records),
        *local,
        np.concatenate([i.numpy() for i in unreadable]) if unreadable else np.empty(0, np.int64),
    )
    slowest = max(distributed.all_gather_object(seconds))  # Python numbers: any backend takes them
    return EvalResult(
        labels=np.array([r.label for r in records], dtype=np.int64),
        clip_logits=clip_all,
        video_scores=video_all,
        readable=readable,
        clips=clips if dataset.multi_view else 1,
        crops=crops if dataset.multi_view else 1,
        clips_scored=int(readable.sum()) * views,
        seconds=slowest,
    )


def gather_by_index(total: int, indices, clip_logits, video_scores, unreadable):
    """Every process's rows put at their video index; each of the `total` videos must arrive
    exactly once, scored or unreadable. Returns clip logits and video scores (N x C, NaN rows
    for unreadable videos) and the readable mask."""
    parts = distributed.all_gather_object((indices, clip_logits, video_scores, unreadable))
    arrived = np.concatenate([p[0] for p in parts if p[0] is not None] + [p[3] for p in parts])
    seen = np.bincount(arrived.astype(np.int64), minlength=total)
    if len(seen) != total or not (seen == 1).all():
        raise RuntimeError(
            f"evaluation gathered {len(arrived)} results for {total} videos; videos seen "
            f"other than once: {np.flatnonzero(seen != 1)[:10].tolist()}"
        )
    scored = [p for p in parts if p[0] is not None]
    num_classes = scored[0][1].shape[1] if scored else 0
    columns = []
    for column in (1, 2):
        ordered = np.full((total, num_classes), np.nan, np.float32)
        for part in scored:
            ordered[part[0]] = part[column]
        columns.append(ordered)
    readable = np.zeros(total, bool)
    for part in scored:
        readable[part[0]] = True
    return columns[0], columns[1], readable


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
    (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
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
    )
    if not rt.is_main:
        return {}
    context = {**context, "clip_input": asdict(clip_input), "precision": rt.precision}
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


def labels_for_model(records, data_names: list[str], model_names: list[str], args, log):
    """The test records labelled in the model's class order. The same classes in another order
    (lists written with another sort) are mapped by name; other classes are refused, since scores
    would be compared with the labels of other classes. A checkpoint without class names
    (``class_0``, ...) is taken to use the data's order."""
    if data_names == model_names:
        return records
    unnamed = model_names == [f"class_{i}" for i in range(len(model_names))]
    if unnamed and len(model_names) == len(data_names):
        log.warning(f"{args.checkpoint} stores no class names: taking {args.data_path}'s order")
        return records
    if sorted(data_names) != sorted(model_names):
        only_data = ", ".join(sorted(set(data_names) - set(model_names))[:5]) or "none"
        only_model = ", ".join(sorted(set(model_names) - set(data_names))[:5]) or "none"
        raise UserError(
            f"{args.data_path} and {args.checkpoint} name different classes (only in the data: "
            f"{only_data}; only in the checkpoint: {only_model})"
        )
    order = {name: index for index, name in enumerate(model_names)}
    relabel = [order[name] for name in data_names]
    log.warning(f"{args.data_path} lists the checkpoint's classes in another order: labels mapped by name")
    return [replace(record, label=relabel[record.label]) for record in records]


def main(args):
    args.output_dir = args.out or args.output_dir
    rt = setup_runtime(args)
    trained = load_trained_model(args.checkpoint, rt.device)
    data = load_split(args.data_path, args.split, args.data_format)
    test_list = list_path(data.root, "val", args.split, data.data_format)
    records = labels_for_model(data.val, data.class_names, trained.class_names, args, rt.log)
    rt.log.info(f"checkpoint {args.checkpoint}, test list {test_list}")
    evaluate_and_report(
        trained.model,
        records,
        trained.class_names,
        rt,
        trained.clip_input,
        clips=args.clips,
        crops=args.crops,
        batch_size=args.batch_size,
        workers=args.workers,
        skip_bad=args.skip_bad,
        print_freq=args.print_freq,
        checkpoint=str(args.checkpoint),
        list=str(test_list),
        split=args.split,
    )
    rt.finish()


def get_args_parser():
    parser = argparse.ArgumentParser(
        description="GloRe evaluation: clip and video accuracy over a whole test list."
    )
    parser.add_argument("--checkpoint", required=True, help="checkpoint written by glore.train")
    parser.add_argument("--data_path", required=True, help="data set root, laid out as for glore.train")
    parser.add_argument(
        "--split", type=int, default=1, choices=(1, 2, 3), help="UCF-101 split whose test list is used"
    )
    parser.add_argument(
        "--data_format",
        default="auto",
        choices=("auto", "rawframes", "videos"),
        help="read extracted frames or decode the videos (auto: rawframes when listed)",
    )
    parser.add_argument(
        "--clips", type=int, default=10, help="evenly spaced clips per video for video accuracy"
    )
    parser.add_argument(
        "--crops", type=int, default=3, help="crops per clip along the long side for video accuracy"
    )
    parser.add_argument(
        "--batch_size", type=int, default=32, help="clips per forward pass (whole videos; at least one video)"
    )
    parser.add_argument("--out", default=None, help="report folder (same as --output_dir)")
    add_runtime_args(parser)
    parser.set_defaults(tensorboard=False, output_dir="glore_eval")
    return parser


if __name__ == "__main__":
    run_cli(main, get_args_parser())
