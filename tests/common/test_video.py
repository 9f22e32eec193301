"""Frames of a rotation-tagged video (a phone's portrait video) come out the way a player shows
them, in both models' video readers."""

import av
import numpy as np
import pytest

from common.video import upright
from glore.data.frames import VideoFile


def write_rotated_video(path, frames: np.ndarray, degrees: int) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        stream.set_display_rotation(degrees)  # counter-clockwise, as frame.rotation reads it
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def landscape_frames(count=4, height=48, width=96):
    """A bright block in the top-left corner: where it lands tells the turn's direction."""
    frames = np.full((count, height, width, 3), 40, np.uint8)
    frames[:, :16, :24] = 230
    return frames


@pytest.mark.parametrize("degrees", [90, -90, 180, 0])
def test_rotation_tag_turns_the_frames_as_a_player_does(tmp_path, degrees):
    path = tmp_path / "phone.mp4"
    stored = landscape_frames()
    write_rotated_video(path, stored, degrees)
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        assert frame.rotation % 360 == degrees % 360
        shown = upright(frame)
    expected = np.rot90(stored[0], degrees // 90)  # counter-clockwise by `degrees`
    assert shown.shape == expected.shape
    assert np.abs(shown.astype(int) - expected).mean() < 8  # lossy coding
    with VideoFile(str(path)) as video:
        assert video.read([0, 2]).shape == (2, *expected.shape)
