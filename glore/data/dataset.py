"""The training dataset: a record (frames folder or video) -> sampled frames -> augmented clip.

Items are integer tensors 3 x T x S x S (see glore.data.transforms); `collate_clips` batches them
into a dict and drops the videos skipped as unreadable under --skip_bad, keeping their messages
so the training process can count and report them. With augment_on="device" the items are the
sampled frames and the clip's augmentation draws instead, batched by `collate_frames` and
augmented in the training process (glore.data.device_augment).
"""

import numpy as np
import torch

from common.cli import PIXELS_ON
from common.seeding import derive_seed
from glore.data.clips import ClipInput, test_clip_indices, train_clip_indices
from glore.data.errors import DataError
from glore.data.frames import open_frames
from glore.data.lists import VideoRecord
from glore.data.transforms import EvalTransform, TrainTransform


class TrainClips(torch.utils.data.Dataset):
    """One random clip per video per epoch. Keys are (epoch, index) from `TrainOrder`; every random
    draw (clip start, augmentation, pixel noise) comes from `derive_seed(seed, epoch, index)`, in the
    same order whether the loader or the device applies the augmentation."""

    def __init__(
        self,
        records: list[VideoRecord],
        transform: TrainTransform,
        seed: int,
        clip_len: int = ClipInput.clip_len,
        interval: int = ClipInput.interval,
        skip_bad: bool = False,
        augment_on: str = "loader",
    ):
        if augment_on not in PIXELS_ON:
            raise ValueError(f"augment_on must be one of {PIXELS_ON}, got {augment_on!r}")
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


class TrainOrder:
    """Which videos each rank reads at each training step: a fresh permutation of the whole list
    each epoch (a pure function of seed and epoch), dealt to the ranks in turn and cut to whole
    batches. ``order(epoch, step)`` is the step's batch as the (epoch, index) keys of its clips
    (``common.loader.RunSteps``'s ``batch_at``), so a resumed run starts at (epoch, step) without
    replaying the batches before it."""

    def __init__(self, num_videos: int, batch_size: int, seed: int, rank: int = 0, world_size: int = 1):
        self.per_rank = num_videos // world_size
        if self.per_rank < batch_size:
            raise ValueError(
                f"{num_videos} training videos cannot fill one batch of {batch_size} on each of "
                f"{world_size} rank(s); lower --batch_size"
            )
        self.num_videos, self.batch_size, self.seed = num_videos, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self._epoch, self._mine = None, None

    @property
    def steps_per_epoch(self) -> int:
        """Batches per epoch (the same on every rank)."""
        return self.per_rank // self.batch_size

    def __call__(self, epoch: int, step: int) -> list[tuple[int, int]]:
        if epoch != self._epoch:  # steps come in order: one permutation per epoch
            order = np.random.default_rng(derive_seed(self.seed, epoch)).permutation(self.num_videos)
            self._epoch, self._mine = epoch, order[self.rank :: self.world_size][: self.per_rank]
        batch = self._mine[step * self.batch_size : (step + 1) * self.batch_size]
        return [(epoch, int(index)) for index in batch]


class VideoViews(torch.utils.data.Dataset):
    """Item i: every test view of video i as integers V x 3 x T x S x S, with its label and i.

    View 0 is the centred clip's centre crop (clip accuracy). When clips x crops > 1 the
    K x M views of the video score follow, clip-major. All views' frames are read in one call,
    so each frame is decoded once and a video file is decoded in one forward pass, unless they
    would hold more than READ_BUDGET bytes (``read_clips``).
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
            views = []
            for number, frames in enumerate(read_clips(source, clips)):
                if number == 0:
                    views.append(self.centre(frames))
                else:
                    views += self.multi.views(frames, range(self.crops))
        return torch.stack(views)


# Decoded frames one read may hold. Below it, every view of a video comes from one read (a video
# file decoded in one pass); above it (a 4K video: 88 frames of 25 MB for 10 clips) the clips are
# read one at a time, so memory is bounded by a clip, not the video. The views are the same.
READ_BUDGET = 256 << 20


def read_clips(source, clips: np.ndarray):
    """Each clip's frames (T x H x W x 3) in turn, from ``source`` (glore.data.frames)."""
    if clips.size * source.frame_bytes() <= READ_BUDGET:
        frames = source.read(clips.ravel())
        yield from frames.reshape(*clips.shape, *frames.shape[1:])
        return
    for clip in clips:
        yield source.read(clip)


def collate_views(batch):
    """Stack the readable videos' views; keep every video's label and index."""
    readable = [views for views, _, _ in batch if views is not None]
    labels = torch.tensor([label for _, label, _ in batch])
    indices = torch.tensor([index for _, _, index in batch])
    ok = torch.tensor([views is not None for views, _, _ in batch])
    return (torch.stack(readable) if readable else None), labels, indices, ok
