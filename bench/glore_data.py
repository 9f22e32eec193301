"""GloRe data figures: training clips per second per core, from rawframes
and from XVID video, through the training data set (glore.data.dataset
.TrainClips: sampling, one read per clip, the full training augmentation)."""

import itertools

from bench.harness import Figure, rate_figure
from bench.inputs import GloreVideo
from glore.data.dataset import TrainClips
from glore.data.lists import VideoRecord
from glore.data.transforms import TrainTransform

CLIP_LEN, INTERVAL = 8, 8


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

    return rate_figure(f"glore.clips.{source}", "clips/s/core", work, repeats, threads=1,
                       note=f"{CLIP_LEN} frames at interval {INTERVAL}, 320x240, full train augmentation")
