"""goturn.train end to end on a tiny demo set: the loss falls and the summary
is written. (Bitwise resume, across an lr drop, is tests/reliability/test_resume.py's.)"""

import json
import shlex
from pathlib import Path

import pytest
import torch

from common.model_card import file_sha256
from goturn.data import demo
from tests.conftest import run_python

# Small and fast: 8 examples per step (1 true + 3 generated per pair), frozen random towers;
# by default the demo network and optimiser (the full CaffeNet costs seconds per run to build
# and 0.9 GB per checkpoint).
COMMON = [
    "--batch_size",
    "8",
    "--examples_per_pair",
    "3",
    "--pretrained_model",
    "none",
    "--freeze_convs",
    "true",
    "--val_batches",
    "1",
    "--workers",
    "1",
    "--tensorboard",
    "false",
    "--print_freq",
    "1",
]
TINY = ["--network", "caffenet-tiny", "--optimizer", "adamw", "--lr", "3e-4", *COMMON]
# The real recipe's network and Caffe SGD, where the solver or the loss falling in 6 steps
# is what is tested (a learning rate high enough to move in a few steps).
CAFFENET_SGD = ["--network", "caffenet", "--lr", "1e-5", *COMMON]


@pytest.fixture(scope="module")
def data_path(tmp_path_factory):
    return demo.generate(
        tmp_path_factory.mktemp("goturn") / "demo", videos_per_category=2, frames=16, det_images_per_folder=2
    )


def train(data_path, output_dir, *extra, flags=TINY):
    result = run_python(
        "-m",
        "goturn.train",
        "--data_path",
        str(data_path),
        "--output_dir",
        str(output_dir),
        *flags,
        *extra,
        env={"OMP_NUM_THREADS": "2"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_training_lowers_the_loss_and_writes_the_summary(data_path, tmp_path):
    log = train(data_path, tmp_path, "--epochs", "1", "--max_steps", "6", flags=CAFFENET_SGD)
    losses = [float(line.split()[1]) for line in (tmp_path / "loss.txt").read_text().splitlines()]
    assert len(losses) == 6 and losses[-1] < losses[0]
    validations = [
        float(line.split("loss ")[1].split()[0]) for line in log.splitlines() if "validation at step" in line
    ]
    assert len(validations) == 2 and validations[-1] < validations[0]
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["network"] == "GOTURN" and result["batch_size"] == 8 and result["fps_unit"] == "examples/s"
    assert result["accuracy"] == pytest.approx(validations[-1], rel=1e-4)
    assert result["loss"] == pytest.approx(losses[-1])
    assert result["fps"] > 0 and result["extra"]["it_per_s"] == pytest.approx(result["fps"] / 8)
    assert "conv towers frozen (no gradients computed)" in log
    # What indexing left out is counted in the result as in the log (the demo
    # DET folders hold objects too large to track).
    skipped = result["extra"]["skipped_at_indexing"]
    assert skipped
    for source_split, counts in skipped.items():
        line = next(line for line in log.splitlines() if f"{source_split}: " in line)
        assert all(f"{count} {reason}" in line for reason, count in counts.items())
    assert result["extra"]["skipped_samples"] == 0

    # The model card beside the checkpoint names what the checkpoint is and how it was made.
    card = (tmp_path / "MODEL_CARD.md").read_text()
    assert f"SHA-256: `{file_sha256(tmp_path / 'checkpoint.pth')}`" in card
    assert f"- {result['accuracy_name']}: {result['accuracy']:.6g}" in card
    assert "examples/s over 1 process(es), global batch 8" in card and "- steps trained: 6" in card
    assert "- train: ALOV frame pairs: " in card and "- val: DET objects: " in card
    assert "validation holds the last 0.5 % of each ALOV category's videos (at least one)" in card
    assert "-m goturn.train --data_path" in card and f"torch {torch.__version__}" in card
    assert '"max_steps": 6' in card and "- device: cpu" in card


def test_fp16_steps_the_scaler_skips_leave_the_weights_trainable(data_path, tmp_path):
    """fp16's GradScaler starts at 2^16 and skips the first steps (overflow);
    the steps after them must train. (With torch's fused SGD the skipped steps
    wrote the momentum buffers and the first real step blew the FC weights up:
    validation loss NaN.)"""
    log = train(
        data_path, tmp_path, "--precision", "fp16", "--epochs", "1", "--max_steps", "6", flags=CAFFENET_SGD
    )
    result = json.loads((tmp_path / "result.json").read_text())
    skipped = result["extra"]["fp16_skipped_steps"]
    assert 1 <= skipped < 6, log[-2000:]
    validations = [
        float(line.split("loss ")[1].split()[0]) for line in log.splitlines() if "validation at step" in line
    ]
    assert len(validations) == 2 and validations[-1] < validations[0]


def test_validation_under_torchrun_equals_one_process(data_path, tmp_path):
    """The fixed validation batches split across two processes (one each)
    add up to the one-process loss."""

    def step0_validation(log: str) -> float:
        line = next(line for line in log.splitlines() if "validation at step 0" in line)
        return float(line.split("loss ")[1].split()[0])

    flags = ["--val_batches", "2", "--epochs", "1", "--max_steps", "1", "--workers", "0"]
    single = train(data_path, tmp_path / "one", *flags)
    result = run_python(
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "goturn.train",
        "--data_path",
        str(data_path),
        "--output_dir",
        str(tmp_path / "two"),
        *TINY,
        *flags,
        env={"OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "validation: 2 fixed batches" in single, single[-1500:]
    two_processes = step0_validation(result.stdout + result.stderr)
    assert two_processes == pytest.approx(step0_validation(single), abs=2e-4)


def test_auto_pretrained_missing_is_an_error_not_random_weights(data_path, tmp_path):
    """On real data, --pretrained_model auto (the default) without caffenet_weights.npy stops
    with one error line naming the path, the file, where it comes from and
    --pretrained_model none; it never trains random towers unasked."""
    from goturn.train import DEFAULT_CAFFENET

    if DEFAULT_CAFFENET.exists():
        pytest.skip(f"{DEFAULT_CAFFENET} is installed here")
    at = TINY.index("--pretrained_model")
    args = TINY[:at] + TINY[at + 2 :]
    result = run_python(
        "-m",
        "goturn.train",
        "--data_path",
        str(data_path),
        "--output_dir",
        str(tmp_path),
        *args,
        "--epochs",
        "1",
        "--max_steps",
        "1",
    )
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith(f"error: --pretrained_model auto: no CaffeNet weights at {DEFAULT_CAFFENET};")
    assert "caffenet_weights.npy from the goturn-pytorch repository" in error
    assert "--pretrained_model none" in error and "Traceback" not in result.stderr
    assert not (tmp_path / "checkpoint.pth").exists()


def demo_recipe() -> list[str]:
    """The demo's flags as goturn/test/train_full_1p.sh gives them (DEMO_ARGS)."""
    script = (Path(__file__).parents[2] / "goturn" / "test" / "train_full_1p.sh").read_text()
    body = script.split("DEMO_ARGS=(", 1)[1].split(")", 1)[0]
    return shlex.split(body)


def test_the_demo_recipe_learns_to_track_in_seconds(data_path, tmp_path):
    """The demo's own recipe (network, optimiser, schedule, jitter), cut to 60 steps: the
    validation loss falls below the no-motion loss and the tracker it makes beats no motion on
    the held-out videos."""
    recipe = demo_recipe()
    assert recipe[recipe.index("--network") + 1] == "caffenet-tiny"
    budget = [
        "--max_steps",
        "60",
        "--epochs",
        "30",
        "--val_every",
        "60",
        "--val_batches",
        "2",
        "--warmup_steps",
        "10",
    ]
    log = train(data_path, tmp_path / "run", *recipe, *budget, "--tensorboard", "false", flags=())
    validations = [line for line in log.splitlines() if "validation at step" in line]
    first, last = (float(line.split("loss ")[1].split()[0]) for line in (validations[0], validations[-1]))
    no_motion = float(validations[-1].split("no motion ")[1].split()[0])
    assert last < first and last < 0.8 * no_motion, validations
    evaluation = run_python(
        "-m",
        "goturn.tracking.evaluate",
        "--checkpoint",
        str(tmp_path / "run" / "checkpoint.pth"),
        "--data_path",
        str(data_path / "ALOV"),
        "--dataset",
        "alov",
        "--out",
        str(tmp_path / "tracking"),
        "--baselines",
        "none",
        "--supervised",
        "false",
    )
    assert evaluation.returncode == 0, evaluation.stdout[-3000:] + evaluation.stderr[-3000:]
    summary = json.loads((tmp_path / "tracking" / "report.json").read_text())["summary"]
    assert summary["GOTURN"]["auc"] > summary["NoMotion"]["auc"] + 0.1, summary
