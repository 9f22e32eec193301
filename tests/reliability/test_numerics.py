"""Numerical faults on the real training scripts (GloRe's tiny network: the
code path is train.py's loop, shared in shape by GOTURN): a NaN or Inf loss
stops the run with the step and the last good checkpoint; under fp16 the
GradScaler skips an overflowing step and the run reports how many."""

import json

import pytest
import torch

from tests.conftest import run_python

TINY = [
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
    "--workers",
    "0",
]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from glore.data.demo import generate

    root = tmp_path_factory.mktemp("glore_numerics") / "demo"
    generate(
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


def fault_run(data, output_dir, bad_value, *extra):
    return run_python(
        "-m",
        "tests.helpers.fault_run",
        "glore",
        "--data_path",
        str(data),
        "--output_dir",
        str(output_dir),
        *TINY,
        *extra,
        env={"FAULT_BAD_LOSS_AT": "3", "FAULT_BAD_LOSS": bad_value},
    )


@pytest.mark.parametrize("bad_value", ["nan", "inf"])
def test_non_finite_loss_stops_with_step_and_last_checkpoint(data, tmp_path, bad_value):
    result = fault_run(data, tmp_path, bad_value, "--save_every", "2")
    assert result.returncode == 2, result.stderr[-2000:]
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("error: the loss is") and "at step 3" in message
    assert f"resume from the last good checkpoint {tmp_path / 'checkpoint.pth'}" in message


def test_fp16_overflow_is_skipped_by_the_scaler_and_counted(data, tmp_path):
    result = fault_run(data, tmp_path, "inf", "--precision", "fp16")
    assert result.returncode == 0, result.stderr[-2000:]
    # The injected step and the scaler's first over-large scales (it starts at 2**16) are skipped.
    skipped = json.loads((tmp_path / "result.json").read_text())["extra"]["fp16_skipped_steps"]
    assert skipped >= 1 and f"{skipped} steps skipped by the fp16 GradScaler" in result.stdout
    weights = torch.load(tmp_path / "checkpoint.pth", weights_only=True)["model"]
    assert all(torch.isfinite(value).all() for value in weights.values() if value.is_floating_point())
