"""Prepare UCF-101 for training: official split files -> extracted frames + mmaction2 lists.

`prepare` (its command line is glore/data/prepare.py) reads `classInd.txt`, `trainlist0N.txt`
and `testlist0N.txt`, extracts the RGB frames of every listed video in parallel to
`OUT/rawframes/Class/v_…/img_00001.jpg` (1-based, like mmaction2), and writes
`OUT/ucf101_{train,val}_split_N_{rawframes,videos}.txt` with labels = classInd - 1, plus a copy
of the split files in `OUT/annotations/`. It is resumable: a video's frames are written to a
hidden temporary folder renamed into place when complete, and finished videos are skipped on the
next run. An unreadable video stops the run naming it, or with --skip_bad is left out of the
lists and counted.
"""

import os
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor

import av
import cv2
from tqdm import tqdm

from common.atomic import write_text_atomically
from common.errors import UserError
from common.video import upright
from glore.data.errors import DataError
from glore.data.frames import FRAME_TEMPLATE, count_rawframes
from glore.data.layout import list_path
from glore.data.lists import VideoRecord, read_class_index, read_official_list


def extract_frames(video_path: str, frame_dir: str, jpeg_quality: int = 95) -> int:
    """Decode every frame of `video_path` into `frame_dir`/img_00001.jpg, ... ; returns the count.

    Writes into a temporary sibling folder first, so `frame_dir` only ever exists complete."""
    partial = os.path.join(os.path.dirname(frame_dir), f".{os.path.basename(frame_dir)}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(partial)
    count = 0
    try:
        with av.open(video_path) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                count += 1
                path = os.path.join(partial, FRAME_TEMPLATE.format(count))
                if not cv2.imwrite(path, upright(frame, "bgr24"), [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]):
                    raise DataError(f"cannot write {path}")
    except (OSError, IndexError, av.FFmpegError) as error:
        shutil.rmtree(partial, ignore_errors=True)
        reason = "is missing" if not os.path.exists(video_path) else f"cannot be decoded ({error})"
        raise DataError(f"video {video_path} {reason}") from error
    if count == 0:
        shutil.rmtree(partial, ignore_errors=True)
        raise DataError(f"video {video_path} holds no decodable frame")
    os.replace(partial, frame_dir)
    return count


def _extract_job(job):
    video_path, frame_dir, quality = job
    try:
        return frame_dir, extract_frames(video_path, frame_dir, quality), None
    except DataError as error:
        return frame_dir, None, str(error)


def frames_dir_for(out: str, video_relative: str) -> str:
    return os.path.join(out, "rawframes", os.path.splitext(video_relative)[0])


def extract_all(video_relatives, videos_root, out, workers, quality, skip_bad, log=print):
    """Extract the videos not done yet; returns ({relative video path: frame count}, [skip messages])."""
    counts, todo = {}, []
    for relative in video_relatives:
        frame_dir = frames_dir_for(out, relative)
        if os.path.isdir(frame_dir):
            counts[relative] = count_rawframes(frame_dir)
        else:
            os.makedirs(os.path.dirname(frame_dir), exist_ok=True)
            todo.append((relative, (os.path.join(videos_root, relative), frame_dir, quality)))
    log(
        f"{len(counts)} of {len(counts) + len(todo)} videos already extracted; extracting {len(todo)} "
        f"with {workers} process(es)"
    )
    skipped = []
    relative_of = {job[1]: relative for relative, job in todo}
    with ProcessPoolExecutor(max_workers=workers) as pool:
        results = pool.map(_extract_job, [job for _, job in todo], chunksize=4)
        for frame_dir, count, error in tqdm(
            results,
            total=len(todo),
            desc="extracting frames",
            unit="video",
            disable=not todo,
            file=sys.stderr,
        ):
            if error is not None:
                if not skip_bad:
                    pool.shutdown(cancel_futures=True)
                    raise DataError(f"{error} (rerun to resume, or pass --skip_bad to leave it out)")
                skipped.append(error)
                continue
            counts[relative_of[frame_dir]] = count
    return counts, skipped


def write_lists(out, split, subset, records: list[VideoRecord], videos_root, counts, formats) -> None:
    def relative(record):
        return os.path.relpath(record.path, videos_root).replace(os.sep, "/")

    if "videos" in formats:
        lines = [f"{relative(r)} {r.label}\n" for r in records if relative(r) in counts]
        write_text_atomically(list_path(out, subset, split, "videos"), "".join(lines))
    if "rawframes" in formats:
        lines = [
            f"{os.path.splitext(relative(r))[0]} {counts[relative(r)]} {r.label}\n"
            for r in records
            if relative(r) in counts
        ]
        write_text_atomically(list_path(out, subset, split, "rawframes"), "".join(lines))


def link_videos_folder(videos: str, out: str, log=print) -> None:
    """The _videos.txt lists name videos relative to OUT/videos/, where the training reads them:
    when --videos is another folder (UCF101.rar unpacks to UCF-101/), OUT/videos becomes a link
    to it."""
    target = os.path.join(out, "videos")
    if os.path.exists(target) and os.path.samefile(target, videos):
        return
    if os.path.lexists(target):
        raise UserError(
            f"{target} exists and is not --videos {videos}: the _videos.txt lists are read "
            f"relative to it; remove it, or pass --videos {target}"
        )
    os.symlink(os.path.abspath(videos), target)
    log(f"{target} -> {os.path.abspath(videos)} (the videos lists are read relative to it)")


def prepare(
    videos: str,
    annotations: str,
    out: str,
    splits=(1, 2, 3),
    formats=("rawframes", "videos"),
    workers: int = 1,
    jpeg_quality: int = 95,
    skip_bad: bool = False,
    log=print,
) -> dict:
    class_names = read_class_index(os.path.join(annotations, "classInd.txt"))
    subsets = {}
    for split in splits:
        subsets[(split, "train")] = read_official_list(
            os.path.join(annotations, f"trainlist0{split}.txt"), class_names, videos
        )
        subsets[(split, "val")] = read_official_list(
            os.path.join(annotations, f"testlist0{split}.txt"), class_names, videos
        )
    wanted = sorted({os.path.relpath(r.path, videos) for records in subsets.values() for r in records})
    os.makedirs(out, exist_ok=True)
    skipped = []
    if "rawframes" in formats:
        counts, skipped = extract_all(wanted, videos, out, workers, jpeg_quality, skip_bad, log)
    else:
        counts = {}
        for relative in wanted:
            if os.path.isfile(os.path.join(videos, relative)):
                counts[relative] = None
            elif skip_bad:
                skipped.append(f"video {os.path.join(videos, relative)} is missing")
            else:
                raise DataError(
                    f"video {os.path.join(videos, relative)} is missing (pass --skip_bad to leave it out)"
                )
    if "videos" in formats:
        link_videos_folder(videos, out, log)
    for (split, subset), records in subsets.items():
        write_lists(out, split, subset, records, videos, counts, formats)
    copy_dir = os.path.join(out, "annotations")
    if os.path.abspath(copy_dir) != os.path.abspath(annotations):
        os.makedirs(copy_dir, exist_ok=True)
        for name in ["classInd.txt"] + [f"{kind}list0{s}.txt" for s in splits for kind in ("train", "test")]:
            shutil.copyfile(os.path.join(annotations, name), os.path.join(copy_dir, name))
    for message in skipped:
        log(f"skipped: {message}")
    log(
        f"lists for split(s) {', '.join(map(str, splits))} written to {out}: {len(counts)} videos"
        + (f", {len(skipped)} skipped as unreadable" if skipped else "")
    )
    return {"videos": len(counts), "skipped": len(skipped)}
