"""Frame reading (rawframes JPEGs and PyAV video with one seek per clip), frame extraction from a
real encoded video, and the preparation tool on official split files."""

import os

import av
import cv2
import numpy as np
import pytest

from common.errors import UserError
from glore.data.demo import write_video
from glore.data.errors import DataError
from glore.data.frames import RawFrames, VideoFile, open_frames
from glore.data.layout import load_split
from glore.data.preparation import extract_frames, prepare


def numbered_frames(count, height=48, width=64):
    """Frame i is a flat colour that encodes i (robust to lossy coding), with a bar for texture."""
    frames = np.zeros((count, height, width, 3), np.uint8)
    for i in range(count):
        frames[i] = (8 * (i % 32), 64 * (i // 32), 128)
        frames[i, 10:20, (2 * i) % width] = 255
    return frames


def frame_number(frame) -> int:
    return round(float(frame[..., 0].mean()) / 8) + 32 * round(float(frame[..., 1].mean()) / 64)


def test_rawframes_are_1_based_and_flow_is_ignored(tmp_path):
    frames = numbered_frames(12)
    for i, frame in enumerate(frames, start=1):
        cv2.imwrite(
            str(tmp_path / f"img_{i:05d}.jpg"),
            cv2.cvtColor(frame, cv2.COLOR_RGB2BGR),
            [cv2.IMWRITE_JPEG_QUALITY, 100],
        )
        cv2.imwrite(str(tmp_path / f"flow_x_{i:05d}.jpg"), frame[..., 0])
        cv2.imwrite(str(tmp_path / f"flow_y_{i:05d}.jpg"), frame[..., 0])
    source = open_frames(str(tmp_path))
    assert isinstance(source, RawFrames) and source.num_frames == 12
    clip = source.read([3, 0, 11, 3])
    assert clip.shape == (4, 48, 64, 3) and clip.dtype == np.uint8
    assert [frame_number(f) for f in clip] == [3, 0, 11, 3]
    assert np.array_equal(clip[0], clip[3])
    assert abs(int(clip[2, 0, 0, 0]) - 88) <= 2 and abs(int(clip[2, 0, 0, 2]) - 128) <= 2  # RGB order


def test_missing_and_corrupt_frames_are_named(tmp_path):
    cv2.imwrite(str(tmp_path / "img_00001.jpg"), numbered_frames(1)[0])
    (tmp_path / "img_00002.jpg").write_bytes(b"not a jpeg")
    source = RawFrames(str(tmp_path), num_frames=3)
    with pytest.raises(DataError, match=r"img_00002.jpg is unreadable or corrupt"):
        source.read([0, 1])
    with pytest.raises(DataError, match=r"img_00003.jpg is missing"):
        source.read([2])


@pytest.mark.parametrize("gop, b_frames", [(12, 0), (250, 0), (12, 2)])
def test_video_clip_seeks_once_and_equals_sequential_decoding(tmp_path, gop, b_frames):
    """gop 250: the seek lands on frame 0. B-frames (UCF-101's Xvid files have them): the AVI
    stamps frame 0 with time 1, not the stream's start time 0."""
    path = str(tmp_path / "v.avi")
    write_video(path, numbered_frames(60), gop=gop, b_frames=b_frames)
    with av.open(path) as container:
        sequential = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    indices = np.array([30, 38, 46, 54, 2, 10, 18, 26])  # a looped clip: order and wrap must hold
    with VideoFile(path) as video:
        assert video.num_frames == 60
        clip = video.read(indices)
    for frame, index in zip(clip, indices):
        assert np.array_equal(frame, sequential[index])
    assert [frame_number(f) for f in clip] == indices.tolist()


def test_video_header_longer_than_the_stream_uses_the_last_frame(tmp_path):
    path = str(tmp_path / "v.avi")
    write_video(path, numbered_frames(20))
    with VideoFile(path) as video:
        clip = video.read([17, 19, 25])  # 25 does not exist
    assert [frame_number(f) for f in clip] == [17, 19, 19]


def test_missing_and_broken_videos_are_named(tmp_path):
    with pytest.raises(DataError, match=r"video .*nothing.avi is missing"):
        VideoFile(str(tmp_path / "nothing.avi"))
    (tmp_path / "broken.avi").write_bytes(b"RIFF0000AVI garbage" * 10)
    with pytest.raises(DataError, match=r"broken\.avi"), VideoFile(str(tmp_path / "broken.avi")) as video:
        video.read([0])


def test_extract_frames_from_an_encoded_video(tmp_path):
    frames = numbered_frames(30)
    write_video(str(tmp_path / "v.avi"), frames)
    count = extract_frames(str(tmp_path / "v.avi"), str(tmp_path / "v"), jpeg_quality=95)
    assert count == 30 and sorted(os.listdir(tmp_path / "v"))[0] == "img_00001.jpg"
    assert not any(name.endswith(".partial") for name in os.listdir(tmp_path))
    clip = RawFrames(str(tmp_path / "v"), 30).read(np.arange(30))
    assert [frame_number(f) for f in clip] == list(range(30))
    assert np.abs(clip.astype(int) - frames).mean() < 6


def official_data(root, videos_per_class=2, frame_count=24, corrupt=None):
    names = ["JumpingJack", "JumpRope", "YoYo"]
    annotations, videos = root / "ucfTrainTestlist", root / "ucf101" / "videos"
    annotations.mkdir(parents=True)
    (annotations / "classInd.txt").write_text("".join(f"{i} {n}\n" for i, n in enumerate(names, 1)))
    train, test = [], []
    for label, name in enumerate(names):
        (videos / name).mkdir(parents=True)
        for group in range(1, videos_per_class + 1):
            relative = f"{name}/v_{name}_g{group:02d}_c01.avi"
            write_video(str(videos / relative), numbered_frames(frame_count + label))
            (test.append(relative) if group == 1 else train.append(f"{relative} {label + 1}"))
    (annotations / "trainlist01.txt").write_text("\n".join(train) + "\n")
    (annotations / "testlist01.txt").write_text("\n".join(test) + "\n")
    if corrupt:
        (videos / corrupt).write_bytes(b"\0" * 100)
    return annotations, videos


def test_prepare_extracts_in_parallel_writes_both_list_formats_and_resumes(tmp_path):
    annotations, videos = official_data(tmp_path)
    out = tmp_path / "ucf101"
    summary = prepare(str(videos), str(annotations), str(out), splits=(1,), workers=2, log=lambda _: None)
    assert summary == {"videos": 6, "skipped": 0}
    assert (out / "ucf101_train_split_1_rawframes.txt").read_text().splitlines() == [
        "JumpingJack/v_JumpingJack_g02_c01 24 0",
        "JumpRope/v_JumpRope_g02_c01 25 1",
        "YoYo/v_YoYo_g02_c01 26 2",
    ]
    assert (out / "ucf101_val_split_1_videos.txt").read_text().splitlines()[
        1
    ] == "JumpRope/v_JumpRope_g01_c01.avi 1"
    assert (out / "annotations" / "classInd.txt").is_file()
    split = load_split(str(tmp_path), 1)
    assert split.class_names == ["JumpingJack", "JumpRope", "YoYo"] and split.data_format == "rawframes"
    assert len(os.listdir(out / "rawframes" / "YoYo" / "v_YoYo_g01_c01")) == 26

    # Resumable: finished videos are kept, a deleted one is extracted again.
    marker = out / "rawframes" / "JumpRope" / "v_JumpRope_g01_c01" / "img_00001.jpg"
    stamp = marker.stat().st_mtime_ns
    removed = out / "rawframes" / "YoYo" / "v_YoYo_g02_c01"
    for name in os.listdir(removed):
        os.remove(removed / name)
    os.rmdir(removed)
    messages = []
    prepare(str(videos), str(annotations), str(out), splits=(1,), workers=1, log=messages.append)
    assert "5 of 6 videos already extracted" in messages[0]
    assert marker.stat().st_mtime_ns == stamp and len(os.listdir(removed)) == 26


def test_prepare_links_videos_kept_elsewhere_so_the_videos_lists_resolve(tmp_path):
    """UCF101.rar unpacks to UCF-101/: the lists are read relative to OUT/videos, which becomes a
    link to it; a different OUT/videos already there is refused, not silently used."""
    annotations, videos = official_data(tmp_path)
    unpacked = tmp_path / "UCF-101"
    videos.rename(unpacked)
    out = tmp_path / "ucf101"
    quiet = {"splits": (1,), "formats": ("videos",), "log": lambda _: None}
    prepare(str(unpacked), str(annotations), str(out), **quiet)
    assert (out / "videos").is_symlink()
    split = load_split(str(out), 1, "videos")
    with open_frames(split.train[0].path) as video:
        assert video.read([0]).shape == (1, 48, 64, 3)
    (out / "videos").unlink()
    (out / "videos").mkdir()
    with pytest.raises(UserError, match="exists and is not --videos"):
        prepare(str(unpacked), str(annotations), str(out), **quiet)


def test_prepare_names_a_bad_video_or_skips_and_counts_it(tmp_path):
    annotations, videos = official_data(tmp_path, corrupt="JumpRope/v_JumpRope_g01_c01.avi")
    out = tmp_path / "ucf101"
    with pytest.raises(DataError, match=r"v_JumpRope_g01_c01.avi cannot be decoded"):
        prepare(str(videos), str(annotations), str(out), splits=(1,), workers=1, log=lambda _: None)
    summary = prepare(
        str(videos), str(annotations), str(out), splits=(1,), workers=1, skip_bad=True, log=lambda _: None
    )
    assert summary == {"videos": 5, "skipped": 1}
    assert "JumpRope" not in (out / "ucf101_val_split_1_rawframes.txt").read_text()


def test_variable_rate_video_without_a_frame_count_is_sampled_to_its_end(tmp_path):
    """Matroska keeps no frame count; frames come at 40 and 80 ms in turn (25 fps on average
    for the container). Frames are indexed by time, so the count spans the last frame's time:
    the last index reads the last frame, not one 70 % of the way in."""
    from fractions import Fraction

    path = str(tmp_path / "vfr.mkv")
    frames = numbered_frames(20)
    with av.open(path, "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        milliseconds = 0
        for index, frame in enumerate(frames):
            picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
            picture.pts, picture.time_base = milliseconds, Fraction(1, 1000)
            milliseconds += 40 if index % 2 == 0 else 80
            for packet in stream.encode(picture):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    with VideoFile(path) as video:
        assert video.num_frames == 1120 // 40 + 1  # the last frame is at 1120 ms
        assert frame_number(video.read([video.num_frames - 1])[0]) == 19
        assert frame_number(video.read([0])[0]) == 0
