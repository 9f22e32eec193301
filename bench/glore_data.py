"""GloRe data figures: training clips per second per core, from rawframes
and from XVID video, through the training data set (glore.data.dataset
.TrainClips: sampling, one read per clip, the full training augmentation);
the augmentation alone, in the loader (per core) and on the device
(``--pixels_on device``), and the bytes a loader batch carries in each mode."""

import itertools
import pickle
import statistics

import numpy as np
import torch

from bench.harness import Figure, rate_figure, thread_limit
from bench.inputs import GloreVideo
from glore.data.clips import train_clip_indices
from glore.data.dataset import TrainClips, collate_clips, collate_frames
from glore.data.device_augment import DeviceAugment
from glore.data.frames import open_frames
from glore.data.lists import VideoRecord
from glore.data.transforms import TrainTransform

CLIP_LEN, INTERVAL = 8, 8
AUGMENT_BATCH = 8


def clip_loading(videos: list[GloreVideo], source: str, clips_per_run: int, repeats) -> Figure:
    """Training items, one clip each: open the video, draw 8 frame indices
    at interval 8, decode them (video: one seek per clip), augment. Call it
    in a process set up like a loader worker, pinned to one core."""
    if source == "rawframes":
        records = [VideoRecord(video.frame_dir, 0, video.num_frames) for video in videos]
    else:
        records = [VideoRecord(video.video_path, 0) for video in videos]
    dataset = TrainClips(records, TrainTransform(), seed=0, clip_len=CLIP_LEN, interval=INTERVAL)
    keys = ((epoch, index) for epoch in itertools.count() for index in range(len(dataset)))

    def work() -> int:
        for _ in range(clips_per_run):
            dataset[next(keys)]
        return clips_per_run

    return rate_figure(
        f"glore.clips.{source}",
        "clips/s/core",
        work,
        repeats,
        threads=1,
        note=f"{CLIP_LEN} frames at interval {INTERVAL}, 320x240, full train augmentation",
    )


def _rawframe_records(videos: list[GloreVideo]) -> list[VideoRecord]:
    return [VideoRecord(video.frame_dir, 0, video.num_frames) for video in videos]


def _keys(count: int, num_videos: int) -> list[tuple[int, int]]:
    """``count`` distinct (epoch, index) keys over the videos: distinct clips and draws."""
    return [(key // num_videos, key % num_videos) for key in range(count)]


def loader_augmentation(videos: list[GloreVideo], clips_per_run: int, repeats) -> Figure:
    """``--pixels_on loader``'s work without the frame reading: TrainTransform
    (draw, one resize of the box, flip, HLS, jitter, planar int16) on 8 frames
    read beforehand, one core. The same with reading is ``glore.clips.rawframes``."""
    rng = np.random.default_rng(0)
    clips = []
    for video in videos:
        with open_frames(video.frame_dir, video.num_frames) as source:
            clips.append(source.read(train_clip_indices(source.num_frames, rng, CLIP_LEN, INTERVAL)))
    transform = TrainTransform()
    frames = itertools.cycle(clips)

    def work() -> int:
        for _ in range(clips_per_run):
            transform(next(frames), rng)
        return clips_per_run

    return rate_figure(
        "glore.augment.loader",
        "clips/s/core",
        work,
        repeats,
        threads=1,
        note=f"{CLIP_LEN} frames of 320x240 -> 3x{CLIP_LEN}x224x224, frames read beforehand",
    )


def device_augmentation(
    videos: list[GloreVideo], device: torch.device, repeats, threads: int, batch_size: int = AUGMENT_BATCH
) -> Figure:
    """``--pixels_on device``: glore.data.device_augment.DeviceAugment on a
    real loader batch (raw frames N x 8 x 240 x 320 x 3 and the draws), from
    the frames' copy to the device (pinned on CUDA, as train.py's loader pins
    them) to normalised float32 N x 3 x 8 x 224 x 224 in channels-last."""
    dataset = TrainClips(
        _rawframe_records(videos),
        TrainTransform(),
        seed=0,
        clip_len=CLIP_LEN,
        interval=INTERVAL,
        augment_on="device",
    )
    batch = collate_frames([dataset[key] for key in _keys(batch_size, len(videos))])
    frames = batch["frames"].pin_memory() if device.type == "cuda" else batch["frames"]
    augment = DeviceAugment(224, device, channels_last=True)

    def work() -> int:
        augment(frames, batch["draws"], batch["noise_seeds"])
        return batch_size

    with thread_limit(threads):
        return rate_figure(
            "glore.augment.device",
            "clips/s",
            work,
            repeats,
            device=device,
            threads=threads,
            note=f"batch {batch_size}: {CLIP_LEN} frames of 320x240 -> 224x224, "
            "crop+resize, flip, HLS, jitter, normalise",
        )


def batch_bytes(
    videos: list[GloreVideo], augment_on: str, batches: int = 4, batch_size: int = AUGMENT_BATCH
) -> Figure:
    """What a loader worker hands over per batch of 8 clips for
    ``--pixels_on loader`` (int16 clips 3 x 8 x 224 x 224: the jitter leaves
    [0, 255]) or ``device`` (uint8 frames 8 x 240 x 320 x 3); the tensors plus
    the pickled lists beside them (labels, indices, draws, noise seeds)."""
    dataset = TrainClips(
        _rawframe_records(videos),
        TrainTransform(),
        seed=0,
        clip_len=CLIP_LEN,
        interval=INTERVAL,
        augment_on=augment_on,
    )
    collate = collate_frames if augment_on == "device" else collate_clips
    keys = _keys(batches * batch_size, len(videos))
    sizes = []
    for start in range(0, len(keys), batch_size):
        batch = collate([dataset[key] for key in keys[start : start + batch_size]])
        tensors = {name: value for name, value in batch.items() if isinstance(value, torch.Tensor)}
        rest = {name: value for name, value in batch.items() if name not in tensors}
        sizes.append(sum(t.numel() * t.element_size() for t in tensors.values()) + len(pickle.dumps(rest)))
    megabytes = [size / 2**20 for size in sizes]
    return Figure(
        name=f"glore.batch_bytes.{augment_on}",
        value=statistics.median(megabytes),
        unit="MiB/batch",
        minimum=min(megabytes),
        maximum=max(megabytes),
        runs=len(sizes),
        threads=0,
        note=f"batch {batch_size}, {CLIP_LEN} frames of 320x240, crop 224",
    )
