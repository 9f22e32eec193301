"""Every numeric flag is checked when the flags are parsed (common.cli.number), flags that
depend on each other before anything starts: one line, exit status 2, nothing run."""

import math

import pytest

from common.cli import number
from common.errors import run_cli
from glore import export as glore_export
from glore import train as glore_train
from glore.inference import evaluate as glore_evaluate
from glore.inference import predict as glore_predict
from goturn import export as goturn_export
from goturn import train as goturn_train
from goturn.tracking import evaluate as goturn_evaluate
from goturn.tracking import track as goturn_track


def never(_args):
    raise AssertionError("main ran despite bad flags")


def refused(module, argv, capsys, check=None):
    with pytest.raises(SystemExit) as exit_:
        run_cli(never, module.get_args_parser(), argv, check=check)
    assert exit_.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--batch_size=0"], "argument --batch_size: expected an integer >= 1, got '0'"),
        (["--batch_size=-3"], "argument --batch_size: expected an integer >= 1, got '-3'"),
        (["--workers=-1"], "argument --workers/-j: expected an integer >= 0, got '-1'"),
        (["--lr=-1"], "argument --lr: expected a finite number > 0, got '-1'"),
        (["--lr=nan"], "argument --lr: expected a finite number > 0, got 'nan'"),
        (["--val_batches=-1"], "argument --val_batches: expected an integer >= 0, got '-1'"),
        (["--epochs=0"], "argument --epochs: expected an integer >= 1, got '0'"),
        (["--momentum=1.5"], "argument --momentum: expected a finite number >= 0 and < 1, got '1.5'"),
        (["--dist_timeout=inf"], "argument --dist_timeout: expected a finite number > 0, got 'inf'"),
        (["--seed=-1"], "argument --seed/--random-seed/--random_seed: expected an integer >= 0, got '-1'"),
    ],
)
def test_goturn_train_refuses_nonsense_numbers(argv, message, capsys):
    line = refused(goturn_train, ["--data_path", "d", *argv], capsys, goturn_train.check_args)
    assert line == f"error: {message} (see --help)"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--crop_size=64", "--short_side", "32", "48"], "--crop_size 64 is above --short_side MIN 32"),
        (
            ["--crop_size=40", "--short_side", "48", "64", "--resize=36"],
            "--crop_size 40 is above --resize 36",
        ),
        (["--short_side", "64", "32"], "--short_side 64 32: the first (MIN) is above the second (MAX)"),
        (["--flip_prob=2"], "argument --flip_prob: expected a finite number >= 0 and <= 1, got '2'"),
        (["--batch_size=0"], "argument --batch_size/--batch-size: expected an integer >= 1, got '0'"),
    ],
)
def test_glore_train_refuses_nonsense_numbers(argv, message, capsys):
    line = refused(glore_train, ["--data_path", "d", *argv], capsys, glore_train.check_args)
    assert line.startswith(f"error: {message}")


@pytest.mark.parametrize(
    "module, flag", [(goturn_train, "--pretrained_model"), (glore_train, "--pretrained")]
)
def test_a_missing_pretrained_file_is_refused_before_anything_starts(module, flag, tmp_path, capsys):
    """It was found after the data was indexed, when the launcher had cleared the last summary."""
    missing = tmp_path / "weights.pth"
    line = refused(module, ["--data_path", "d", f"{flag}={missing}"], capsys, module.check_args)
    assert line == f"error: {flag} {missing}: no such file"


@pytest.mark.parametrize(
    "flag, value", [("--topk", "0"), ("--topk", "-1"), ("--clips", "0"), ("--crops", "0")]
)
def test_glore_predict_refuses_nonsense_counts(flag, value, capsys):
    line = refused(glore_predict, ["video.avi", "--checkpoint", "c.pth", f"{flag}={value}"], capsys)
    assert line == f"error: argument {flag}: expected an integer >= 1, got '{value}' (see --help)"


def test_glore_evaluate_refuses_zero_clips(capsys):
    line = refused(glore_evaluate, ["--checkpoint", "c", "--data_path", "d", "--clips=0"], capsys)
    assert "argument --clips: expected an integer >= 1, got '0'" in line


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["--box=nan,2,10,10"],
            "argument --box: expected x,y,w,h: four finite numbers, w, h > 0, got 'nan,2,10,10'",
        ),
        (
            ["--box=1,2,inf,10"],
            "argument --box: expected x,y,w,h: four finite numbers, w, h > 0, got '1,2,inf,10'",
        ),
        (["--max_frames=-1"], "argument --max_frames: expected an integer >= 1, got '-1'"),
        (["--fps=nan"], "argument --fps: expected a finite number > 0, got 'nan'"),
        (["--fps=-5"], "argument --fps: expected a finite number > 0, got '-5'"),
        (["--min_score=nan"], "argument --min_score: expected a finite number >= 0 and <= 1, got 'nan'"),
    ],
)
def test_goturn_track_refuses_nonsense_numbers(argv, message, capsys):
    """A NaN box ended in an OpenCV traceback, --fps nan or -5 in PyAV's, --max_frames -1
    dropped the last frame."""
    flags = ["--checkpoint", "c.pth", "--input", "frames", "--box=1,2,10,10", "--out", "o.mp4"]
    assert refused(goturn_track, [*flags, *argv], capsys) == f"error: {message} (see --help)"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--videos=-1"], "argument --videos: expected an integer >= 0, got '-1'"),
        (["--jobs=0"], "argument --jobs: expected an integer >= 1, got '0'"),
        (["--val_fraction=2"], "argument --val_fraction: expected a finite number >= 0 and < 1, got '2'"),
        (["--min_score=-1"], "argument --min_score: expected a finite number >= 0 and <= 1, got '-1'"),
    ],
)
def test_goturn_evaluate_refuses_nonsense_numbers(argv, message, capsys):
    """--videos -1 rendered all but the last sequence, --jobs 0 ran as 1 without a word."""
    flags = ["--checkpoint", "c.pth", "--data_path", "d", "--dataset", "otb", "--out", "o"]
    assert refused(goturn_evaluate, [*flags, *argv], capsys) == f"error: {message} (see --help)"


@pytest.mark.parametrize("module", [goturn_export, glore_export])
@pytest.mark.parametrize("opset", ["0", "-5", "99"])
def test_export_refuses_an_opset_onnx_does_not_have(module, opset, capsys):
    """--opset 0 or 99 reached torch.onnx and ended in its traceback."""
    flags = ["--checkpoint", "c.pth", "--onnx", "m.onnx", f"--opset={opset}"]
    message = f"argument --opset: expected an integer >= 7 and <= 23, got '{opset}'"
    assert refused(module, flags, capsys) == f"error: {message} (see --help)"


def test_number_accepts_what_its_range_holds():
    assert number(int, least=1)("3") == 3
    assert number(float, above=0, below=1)("0.5") == 0.5
    assert math.isclose(number(float)("-1e-3"), -1e-3)


@pytest.mark.parametrize(
    "argv, short_side, lr_steps",
    [
        (["--short_side", "32", "48", "--lr_steps", "10", "20"], [32, 48], [10.0, 20.0]),
        (["--short_side", "32,48", "--lr_steps", "10,20"], [32, 48], [10.0, 20.0]),  # the scripts' --key=a,b
        (["--lr_steps"], [224, 340], []),
    ],
)
def test_several_values_as_words_or_commas(argv, short_side, lr_steps):
    args = glore_train.get_args_parser().parse_args(["--data_path", "d", *argv])
    assert (args.short_side, args.lr_steps) == (short_side, lr_steps)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--short_side", "32"], "argument --short_side: expected 2 values ('N N' or 'N,N'), got 1: 32"),
        (["--hls=1,2"], "argument --hls: expected 3 values ('N N N' or 'N,N,N'), got 2: 1,2"),
        (["--short_side", "32,-48"], "argument --short_side: expected an integer >= 1, got '-48'"),
    ],
)
def test_a_wrong_count_of_values_is_one_line(argv, message, capsys):
    line = refused(glore_train, ["--data_path", "d", *argv], capsys, glore_train.check_args)
    assert line == f"error: {message} (see --help)"


@pytest.mark.parametrize(
    "module",
    [goturn_train, goturn_track, goturn_evaluate, goturn_export, glore_train, glore_predict, glore_evaluate],
)
def test_every_flag_has_help_text(module):
    """--help said nothing of --momentum, --gamma, --epochs, --split, --crop_size, ..."""
    silent = [
        action.option_strings[0]
        for action in module.get_args_parser()._actions
        if action.option_strings and not action.help
    ]
    assert silent == []
