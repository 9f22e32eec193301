"""Bad data on both models: each fault stops with an error naming the file, or
with --skip_bad is skipped and counted. Faults are injected into copies of the
tiny demo sets in the real on-disk formats."""

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from common.errors import run_cli
from glore import train as glore_train
from glore.data.dataset import TrainClips
from glore.data.demo import generate as generate_glore_demo
from glore.data.errors import DataError as GloreDataError
from glore.data.layout import load_split
from glore.data.transforms import TrainTransform
from goturn import train as goturn_train
from goturn.data import demo as goturn_demo
from goturn.data.alov import load_alov
from goturn.data.imagenet_det import load_imagenet_det
from goturn.data.records import DataError as GoturnDataError
from goturn.data.stream import ExampleStream
from tests.conftest import run_python


def truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 8])


def empty(path):
    path.write_bytes(b"")


def garbage(path):
    path.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4)


IMAGE_FAULTS = {"truncated": truncate, "empty": empty, "corrupt": garbage}


# ---- GOTURN -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def goturn_source(tmp_path_factory):
    return goturn_demo.generate(
        tmp_path_factory.mktemp("goturn_bad") / "demo",
        videos_per_category=2,
        frames=11,
        det_images_per_folder=2,
    )


@pytest.fixture
def goturn_data(goturn_source, tmp_path):
    return shutil.copytree(goturn_source, tmp_path / "data")


def goturn_stream(root, skip_bad):
    tables = [
        load_imagenet_det(root / "ILSVRC2014_Det", "all", skip_bad=skip_bad)[0],
        load_alov(root / "ALOV", "all", skip_bad=skip_bad)[0],
    ]
    return ExampleStream(tables, 11, seed=0, generated=10, skip_bad=skip_bad)


def skipped_in_epoch(stream):
    return sum(int(stream.batch(0, index)["skipped"]) for index in range(stream.batches_per_epoch))


@pytest.mark.parametrize("fault", sorted(IMAGE_FAULTS))
def test_goturn_unreadable_image_is_named_or_skipped_and_counted(goturn_data, fault):
    image = sorted((goturn_data / "ALOV" / "images").rglob("*.jpg"))[0]
    IMAGE_FAULTS[fault](image)
    with pytest.raises(GoturnDataError, match=str(image)):
        skipped_in_epoch(goturn_stream(goturn_data, skip_bad=False))
    assert skipped_in_epoch(goturn_stream(goturn_data, skip_bad=True)) >= 1


@pytest.mark.parametrize(
    "line, message, reason",
    [
        ("1 nan 2 3 4 5 6 7 8", "finite numbers", ".ann lines that do not parse"),
        ("1 inf 2 3 4 5 6 7 8", "finite numbers", ".ann lines that do not parse"),
        ("1e400 1 2 3 4 5 6 7 8", "frame number", ".ann lines that do not parse"),
        ("1 5 5 5 5 5 5 5 5", "zero width or height", ".ann lines with a zero-width or zero-height polygon"),
        ("1 5 2 5 9 5 9 5 2", "zero width or height", ".ann lines with a zero-width or zero-height polygon"),
    ],
)
def test_goturn_bad_ann_line_names_file_or_is_skipped_alone(goturn_data, line, message, reason):
    ann = sorted((goturn_data / "ALOV" / "gt").rglob("*.ann"))[0]
    pairs_before = len(load_alov(goturn_data / "ALOV", "all")[0])
    ann.write_text(ann.read_text() + line + "\n")
    with pytest.raises(GoturnDataError, match=message) as error:
        load_alov(goturn_data / "ALOV", "all")
    assert str(ann) in str(error.value) and "--skip_bad" in str(error.value)
    table, report = load_alov(goturn_data / "ALOV", "all", skip_bad=True)
    assert report.skipped == {reason: 1} and len(table) == pairs_before  # the video's other lines all kept


def test_goturn_box_outside_the_image_is_named_or_skipped(goturn_data):
    ann = sorted((goturn_data / "ALOV" / "gt").rglob("*.ann"))[0]
    lines = ann.read_text().splitlines()
    lines[0] = f"{lines[0].split()[0]} 5000 5000 5000 5100 5100 5100 5100 5000"
    ann.write_text("\n".join(lines) + "\n")
    with pytest.raises(GoturnDataError, match="lies outside"):
        skipped_in_epoch(goturn_stream(goturn_data, skip_bad=False))
    assert skipped_in_epoch(goturn_stream(goturn_data, skip_bad=True)) >= 1


@pytest.mark.parametrize(
    "bndbox, counted",
    [
        ("<xmin>nan</xmin><ymin>1</ymin><xmax>5</xmax><ymax>5</ymax>", "malformed XML files"),
        ("<xmin>9</xmin><ymin>1</ymin><xmax>5</xmax><ymax>5</ymax>", "objects with an invalid box"),
        ("<xmin>3</xmin><ymin>3</ymin><xmax>3</xmax><ymax>8</ymax>", "objects with an invalid box"),
        ("<xmin>-4</xmin><ymin>1</ymin><xmax>5</xmax><ymax>5</ymax>", "objects with an invalid box"),
        ("<xmin>4000</xmin><ymin>1</ymin><xmax>4010</xmax><ymax>5</ymax>", "objects with an invalid box"),
    ],
)
def test_goturn_bad_det_box_is_named_or_counted(goturn_data, bndbox, counted):
    xml = next(
        path
        for path in sorted((goturn_data / "ILSVRC2014_Det" / "gt").rglob("*.xml"))
        if "<bndbox>" in path.read_text()
    )
    text = xml.read_text()
    start, end = text.index("<bndbox>") + len("<bndbox>"), text.index("</bndbox>")
    xml.write_text(text[:start] + bndbox + text[end:])
    if counted == "malformed XML files":
        with pytest.raises(GoturnDataError, match=str(xml)):
            load_imagenet_det(goturn_data / "ILSVRC2014_Det", "all")
    _, report = load_imagenet_det(goturn_data / "ILSVRC2014_Det", "all", skip_bad=True)
    assert report.skipped[counted] >= 1 and counted in report.summary()


def goturn_cli(data_path, output_dir, *extra):
    argv = [
        "--data_path",
        str(data_path),
        "--output_dir",
        str(output_dir),
        "--batch_size",
        "8",
        "--examples_per_pair",
        "2",
        "--pretrained_model",
        "none",
        "--val_batches",
        "0",
        "--tensorboard",
        "false",
        "--max_steps",
        "1",
        *extra,
    ]
    with pytest.raises(SystemExit) as stop:
        run_cli(goturn_train.main, goturn_train.get_args_parser(), argv)
    return stop.value.code


def test_goturn_error_in_a_loader_worker_is_one_line_naming_the_file(goturn_data, tmp_path, capsys):
    for image in (goturn_data / "ILSVRC2014_Det" / "images").rglob("*.JPEG"):
        garbage(image)
    assert goturn_cli(goturn_data, tmp_path / "run", "--workers", "1") == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and error[0].startswith("error: cannot read image ")
    assert str(goturn_data / "ILSVRC2014_Det" / "images") in error[0] and "Traceback" not in error[0]


def test_goturn_wrong_data_layout_says_what_is_expected(tmp_path, capsys):
    (tmp_path / "data" / "ucf101").mkdir(parents=True)
    assert goturn_cli(tmp_path / "data", tmp_path / "run", "--workers", "0") == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and "/images/<folder>/<name>.JPEG" in error and "\n" not in error


# ---- GloRe --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def glore_source(tmp_path_factory):
    root = tmp_path_factory.mktemp("glore_bad") / "demo"
    generate_glore_demo(
        str(root),
        groups=3,
        clips_per_group=1,
        test_groups=1,
        num_frames=20,
        height=24,
        width=32,
        workers=1,
        log=lambda _: None,
    )
    return root


@pytest.fixture
def glore_data(glore_source, tmp_path):
    return shutil.copytree(glore_source, tmp_path / "data")


def break_first_training_video(root, fault, data_format="rawframes"):
    """Apply ``fault`` to the first training video; returns the path the error must name."""
    split = load_split(str(root), 1, data_format)
    record = split.train[0]
    if fault == "missing_folder":
        shutil.rmtree(record.path)
        return record.path
    if data_format == "videos":
        IMAGE_FAULTS[fault](Path(record.path))
        return record.path
    frame = sorted(Path(record.path).glob("img_*.jpg"))[0]
    # Every frame: the clip's random start must not miss the broken one.
    for other in sorted(Path(record.path).glob("img_*.jpg")):
        IMAGE_FAULTS[fault](other)
    return str(frame.parent)


def glore_clip(root, data_format, skip_bad):
    split = load_split(str(root), 1, data_format)
    dataset = TrainClips(
        split.train, TrainTransform(16, (16, 24), (0.8, 1.25), 0.5, (15, 35, 25), 20.0), 0, 4, 2, skip_bad
    )
    return dataset[(0, 0)]


@pytest.mark.parametrize(
    "fault, data_format",
    [
        ("truncated", "rawframes"),
        ("empty", "rawframes"),
        ("corrupt", "rawframes"),
        ("missing_folder", "rawframes"),
        ("truncated", "videos"),
        ("empty", "videos"),
    ],
)
def test_glore_unreadable_video_is_named_or_skipped(glore_data, fault, data_format):
    named = break_first_training_video(glore_data, fault, data_format)
    with pytest.raises(GloreDataError, match=named):
        glore_clip(glore_data, data_format, skip_bad=False)
    item = glore_clip(glore_data, data_format, skip_bad=True)
    assert named in item["skipped"]


@pytest.mark.parametrize(
    "line, message",
    [
        ("DriftLeft/v_DriftLeft_g03_c01 nan 0", "frame count 'nan' is not an integer"),
        ("DriftLeft/v_DriftLeft_g03_c01 -4 0", "frame count -4 is below 1"),
        ("DriftLeft/v_DriftLeft_g03_c01 0 0", "frame count 0 is below 1"),
        ("DriftLeft/v_DriftLeft_g03_c01 20 -1", "label -1 is below 0"),
        ("DriftLeft/v_DriftLeft_g03_c01 20 99", "label 99 is out of range"),
    ],
)
def test_glore_bad_list_line_is_named(glore_data, line, message):
    listing = glore_data / "ucf101" / "ucf101_train_split_1_rawframes.txt"
    listing.write_text(listing.read_text() + line + "\n")
    with pytest.raises(GloreDataError, match=message) as error:
        load_split(str(glore_data))
    assert f"{listing}:" in str(error.value)


TINY_GLORE = [
    "--network",
    "resnet14-tiny",
    "--pretrained",
    "none",
    "--clip_len",
    "4",
    "--interval",
    "2",
    "--crop_size",
    "16",
    "--short_side",
    "16",
    "24",
    "--resize",
    "18",
    "--batch_size",
    "4",
    "--val_batch_size",
    "8",
    "--epochs",
    "1",
    "--tensorboard",
    "false",
    "--print_freq",
    "100",
]


def glore_cli(data_path, output_dir, *extra):
    argv = ["--data_path", str(data_path), "--output_dir", str(output_dir), *TINY_GLORE, *extra]
    try:
        return run_cli(glore_train.main, glore_train.get_args_parser(), argv)
    except SystemExit as stop:
        return stop.code


def test_glore_bad_frames_stop_the_run_naming_them_or_are_counted_at_the_end(glore_data, tmp_path, capsys):
    named = break_first_training_video(glore_data, "corrupt")
    assert glore_cli(glore_data, tmp_path / "strict", "--workers", "1") == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and named in error[0] and "is unreadable or corrupt" in error[0]

    assert glore_cli(glore_data, tmp_path / "skip", "--workers", "1", "--skip_bad") == 0
    log = capsys.readouterr().out
    assert f"skipped (--skip_bad): frame {named}" in log
    assert "1 unreadable training clips were skipped (--skip_bad)" in log
    assert json.loads((tmp_path / "skip" / "result.json").read_text())["extra"]["skipped_videos"] == 1


def test_glore_under_torchrun_a_rank_left_without_clips_holds_every_rank_back(glore_data, tmp_path):
    """One clip per process per step and one unreadable video: on its step one process has
    nothing to train on. No process steps then (DDP's gradient all-reduce needs them all); the
    job finishes and counts the skip once, for the whole job."""
    named = break_first_training_video(glore_data, "corrupt")
    out = tmp_path / "two"
    result = run_python(
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "glore.train",
        "--data_path",
        str(glore_data),
        "--output_dir",
        str(out),
        *TINY_GLORE,
        "--batch_size",
        "1",
        "--workers",
        "0",
        "--skip_bad",
        "--dist_timeout",
        "60",
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert f"skipped (--skip_bad): frame {named}" in log
    assert "1 process(es) had no readable clip; no process trains on this step" in log
    assert json.loads((out / "result.json").read_text())["extra"]["skipped_videos"] == 1


@pytest.mark.parametrize("layout", ["empty", "goturn", "lists_only_one_video"])
def test_glore_wrong_data_layout_is_a_one_line_error(tmp_path, glore_data, capsys, layout):
    data = tmp_path / "wrong"
    if layout == "empty":
        data.mkdir()
    elif layout == "goturn":
        (data / "ALOV" / "images").mkdir(parents=True)
    else:
        data = glore_data
        listing = data / "ucf101" / "ucf101_train_split_1_rawframes.txt"
        listing.write_text(listing.read_text().splitlines()[0] + "\n")
    assert glore_cli(data, tmp_path / "run", "--workers", "0") == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and "\n" not in error and str(data) in error


def test_corrupt_jpeg_helpers_really_break_decoding(tmp_path):
    path = tmp_path / "x.jpg"
    for fault in IMAGE_FAULTS.values():
        cv2.imwrite(str(path), np.full((64, 64, 3), 90, np.uint8))
        fault(path)
        assert cv2.imread(str(path)) is None
