"""The training dataset: a record (frames folder or video) -> sampled frames -> augmented clip.

Items are integer tensors 3 x T x S x S (see glore.data.transforms); `collate_clips` batches them
into a dict and drops the videos skipped as unreadable under --skip_bad, keeping their messages
so the training process can count and report them. With augment_on="device" the items are the
sampled frames and the clip's augmentation draws instead, batched by `collate_frames` and
augmented in the training process (glore.data.device_augment).
"""

import cv2
import numpy as np
import torch

from common.allocator import M_MMAP_THRESHOLD, M_TRIM_THRESHOLD, set_malloc_options
from common.seeding import derive_seed, seed_worker
from glore.data.clips import ClipInput, test_clip_indices, train_clip_indices
from glore.data.errors import DataError
from glore.data.frames import open_frames
from glore.data.lists import VideoRecord
from glore.data.transforms import EvalTransform, TrainTransform

AUGMENT_ON = ("loader", "device")


class TrainClips(torch.utils.data.Dataset):
    """One random clip per video per epoch. Keys are (epoch, index) from `TrainBatchSampler`; every random
    draw (clip start, augmentation, pixel noise) comes from `derive_seed(seed, epoch, index)`, in the
    same order whether the loader or the device applies the augmentation."""

    def __init__(
        self,
        records: list[VideoRecord],
        transform: TrainTransform,
        seed: int,
        clip_len: int = 8,
        interval: int = 8,
        skip_bad: bool = False,
        augment_on: str = "loader",
    ):
        if augment_on not in AUGMENT_ON:
            raise ValueError(f"augment_on must be one of {AUGMENT_ON}, got {augment_on!r}")
        self.records = records
        self.transform = transform
        self.seed = seed
        self.clip_len = clip_len
        self.interval = interval
        self.skip_bad = skip_bad
        self.augment_on = augment_on

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, key: tuple[int, int]):
        epoch, index = key
        record = self.records[index]
        rng = np.random.default_rng(derive_seed(self.seed, epoch, index))
        try:
            with open_frames(record.path, record.num_frames) as source:
                frames = source.read(train_clip_indices(source.num_frames, rng, self.clip_len, self.interval))
        except DataError as error:
            if not self.skip_bad:
                raise
            return {"skipped": str(error)}
        if self.augment_on == "device":
            draw = self.transform.draw(frames.shape[1], frames.shape[2], rng)
            # The loader's jitter takes raw numbers from `rng` here; the device's noise generator
            # is seeded from it instead, so the noise too stays a function of (seed, epoch, index).
            noise_seed = int(rng.integers(2**63))
            return {
                "frames": frames,
                "draw": draw,
                "noise_seed": noise_seed,
                "label": record.label,
                "index": index,
            }
        return {"clips": self.transform(frames, rng), "label": record.label, "index": index}


def collate_clips(items: list[dict]) -> dict:
    """Batch the readable items; unreadable ones (only under --skip_bad) leave their message.
    Labels and indices stay plain lists: every tensor of a batch costs a file-descriptor handshake
    between a loader worker and the training process (about half a millisecond each here)."""
    good = [item for item in items if "skipped" not in item]
    return {
        "clips": torch.stack([item["clips"] for item in good]) if good else None,
        "labels": [item["label"] for item in good],
        "indices": [item["index"] for item in good],
        "skipped": [item["skipped"] for item in items if "skipped" in item],
    }


def collate_frames(items: list[dict]) -> dict:
    """Batch raw clips for the device's augmentation: frames N x T x H x W x 3 (uint8; clips of a
    smaller size are padded at the bottom and right, which their boxes never reach), the draws and
    noise seeds as plain lists (small; see collate_clips), and the same bookkeeping as collate_clips."""
    good = [item for item in items if "skipped" not in item]
    frames = None
    if good:
        shapes = [item["frames"].shape for item in good]
        if all(shape == shapes[0] for shape in shapes):
            frames = torch.from_numpy(np.stack([item["frames"] for item in good]))
        else:
            height, width = max(shape[1] for shape in shapes), max(shape[2] for shape in shapes)
            frames = torch.zeros((len(good), shapes[0][0], height, width, 3), dtype=torch.uint8)
            for slot, item in zip(frames, good):
                _, clip_height, clip_width, _ = item["frames"].shape
                slot[:, :clip_height, :clip_width] = torch.from_numpy(item["frames"])
    return {
        "frames": frames,
        "draws": [item["draw"] for item in good],
        "noise_seeds": [item["noise_seed"] for item in good],
        "labels": [item["label"] for item in good],
        "indices": [item["index"] for item in good],
        "skipped": [item["skipped"] for item in items if "skipped" in item],
    }


def single_threaded_opencv() -> None:
    """One OpenCV thread in this process and in the loader workers it forks later (the workers
    are the parallelism). Call it before the loader starts its workers: OpenCV's thread pool does
    not survive fork(), and a worker that reconfigures a pool its parent had started waits forever
    for threads that exist only in the parent."""
    cv2.setNumThreads(1)


def loader_worker_init(worker_id: int) -> None:
    """Per loader worker: distinct global random streams (unused by our pipeline, but third-party
    code may draw) and an allocator that keeps freed memory."""
    seed_worker(worker_id)
    keep_freed_clip_buffers()


def keep_freed_clip_buffers() -> None:
    """Stop glibc from returning a clip's freed buffers to the OS after every clip.

    Each clip allocates a few MB of frame and pixel buffers; by default glibc maps them fresh and
    unmaps them on free, so every clip pays ~1,500 page faults (about a third of its loading time
    here). Keeping them mapped makes the next clip reuse the same pages. Milder than a CPU training
    process's setting (common.allocator.keep_freed_memory): buffers over 32 MiB are still mapped
    and unmapped, and the heap is trimmed beyond 256 MiB free. No-op off glibc.
    """
    set_malloc_options({M_MMAP_THRESHOLD: 32 << 20, M_TRIM_THRESHOLD: 256 << 20})  # 32 MiB: glibc's maximum


class VideoViews(torch.utils.data.Dataset):
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
