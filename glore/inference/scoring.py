"""Clip and video scores of a whole test list, exactly, on one process or many.

The list is cut into fixed batches of whole videos that do not depend on the number of
processes, each process scores every world_size-th batch, and the per-video scores are gathered
by video index, so every video is counted once and the figures equal those of one process.
`evaluate_videos` is what glore.train's validation and the glore.evaluate report both call.
"""

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from common import distributed
from common.device import synchronize
from common.loader import make_loader
from common.logs import ProgressLogger
from glore.data.clips import ClipInput
from glore.data.dataset import VideoViews, collate_views
from glore.data.transforms import normalize_clips
from glore.inference.metrics import average_softmax, topk_hits

TOPK = (1, 5)


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
    channels_last: bool = False,
) -> EvalResult:
    """Score every video of `records` with `model` (plain or DDP-wrapped), on all processes.

    `batch_size` is the number of clips per forward pass; a batch holds whole videos (at least
    one); `channels_last`: the memory layout the model was trained in, which its inputs take.
    Collective: every process calls it with the same records and settings, and every process
    gets the whole result.
    """
    if isinstance(model, DistributedDataParallel):
        # DDP's forward syncs buffers collectively, but processes run different batch counts here.
        model = model.module
    was_training = model.training
    model.eval()
    dataset = VideoViews(records, clip_input, clips, crops, skip_bad)
    views = dataset.views_per_video
    batches = shard_batches(len(records), max(1, batch_size // views), rt.rank, rt.world_size)
    loader = make_loader(
        dataset, batches, workers=workers, device=rt.device, collate_fn=collate_views, prefetch_factor=2
    )
    progress = ProgressLogger(rt.log, len(batches), print_freq, desc, enabled=rt.is_main)

    scored, clip_logits, video_scores, unreadable = [], [], [], []
    start = time.perf_counter()
    for step, (inputs, _, indices, ok) in enumerate(loader, start=1):
        if inputs is not None:
            flat = normalize_clips(inputs.flatten(0, 1), rt.device, channels_last)
            with rt.amp.autocast():
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
