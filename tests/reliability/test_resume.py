"""Kills, graceful stops and worker counts on the real training scripts.

Per model, one uninterrupted run (--workers 0) is the reference; a second run
of the same length (--workers 2) is SIGKILLed right after the log line of a
step drawn from a seeded RNG, resumed with --resume auto, stopped with
SIGTERM, and resumed again to the end. It must end with the reference's
weights, bit for bit, and the reference's loss curve: data order, loader
position within the epoch, GOTURN's batches cut across pairs and every random
stream come back from the checkpoint, and 0 or 2 workers make no difference.
"""

import os
import random
import signal
import subprocess
import sys
import time

import pytest
import torch

from common.checkpoint import load_checkpoint
from goturn.data import demo as goturn_demo
from tests.conftest import REPO_ROOT
from tests.helpers.glore_fixtures import make_tiny_demo

MODELS = {
    # 8 examples per step, 3 per pair: pairs are cut across batches, so the
    # carried-over part of a pair must survive a resume. 30 steps per epoch:
    # every checkpoint below is mid-epoch. The lr drops x0.1 after step 3,
    # between the checkpoints: the solver's Caffe momentum rescaling must
    # survive them too.
    # The demo network: the full CaffeNet adds seconds per step and a 0.9 GB checkpoint per save,
    # and what is checked (data order, carried-over pairs, the solver, random streams) is the same.
    "goturn": {
        "args": [
            "--network",
            "caffenet-tiny",
            "--batch_size",
            "8",
            "--examples_per_pair",
            "2",
            "--pretrained_model",
            "none",
            "--freeze_convs",
            "true",
            "--lr",
            "1e-5",
            "--val_batches",
            "0",
            "--epochs",
            "2",
            "--max_steps",
            "7",
            "--lr_step",
            "3",
        ],
        "steps": 7,
        "kill_after": (3, 4),
        # Steps take milliseconds: slowed as GloRe's below.
        "step_delay": "0.3",
    },
    # 16 training videos in batches of 2: 8 steps per epoch; the run crosses
    # into epoch 2 after resuming from a mid-epoch checkpoint.
    "glore": {
        "args": [
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
            "2",
            "--val_batch_size",
            "8",
            "--lr",
            "0.05",
            "--warmup_epochs",
            "0.5",
            "--epochs",
            "2",
            "--max_steps",
            "10",
        ],
        "steps": 10,
        "kill_after": (3, 7),
        # Steps take milliseconds: slow them so a signal sent after step k's
        # log line lands before step k + 1 ends (tests/helpers/fault_run.py).
        "step_delay": "0.3",
    },
}
COMMON = ["--tensorboard", "false", "--print_freq", "1", "--seed", "3"]


def make_data(model, root):
    if model == "goturn":
        return goturn_demo.generate(
            root / "goturn", videos_per_category=2, frames=16, det_images_per_folder=2
        )
    return make_tiny_demo(root / "glore")


def command(model, data, output_dir, workers, *extra, save_every=2):
    return [
        sys.executable,
        "-m",
        "tests.helpers.fault_run",
        model,
        "--data_path",
        str(data),
        "--output_dir",
        str(output_dir),
        *MODELS[model]["args"],
        *COMMON,
        "--workers",
        str(workers),
        "--save_every",
        str(save_every),
        *extra,
    ]


def environment(delay="0"):
    return {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1", "FAULT_STEP_DELAY": delay}


def start(cmd, delay):
    return subprocess.Popen(
        cmd,
        cwd=REPO_ROOT,
        env=environment(delay),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for(process, text, timeout=120):
    """Read the merged output until a line contains ``text``; returns what was read."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        seen.append(line)
        if text in line:
            return "".join(seen)
        if not line and process.poll() is not None:
            break
    process.kill()
    raise AssertionError(f"no line with {text!r}; output:\n{''.join(seen)[-3000:]}")


def run_to_end(cmd, delay="0"):
    result = subprocess.run(
        cmd, cwd=REPO_ROOT, env=environment(delay), capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


class Scenario:
    """What the interrupted run went through, for the tests to check."""


@pytest.fixture(scope="module", params=sorted(MODELS))
def scenario(request, tmp_path_factory):
    model = request.param
    spec = MODELS[model]
    root = tmp_path_factory.mktemp(f"reliability_{model}")
    data = make_data(model, root)
    s = Scenario()
    s.model, s.steps = model, spec["steps"]
    s.reference = root / "reference"
    # No periodic checkpoints: only the final one.
    run_to_end(command(model, data, s.reference, 0, save_every=0))

    out = root / "interrupted"
    s.kill_step = random.Random(f"kill {model}").randint(*spec["kill_after"])
    process = start(command(model, data, out, 2), spec["step_delay"])
    wait_for(process, f"[{s.kill_step}/")
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    s.killed_returncode = process.returncode
    s.after_kill = load_checkpoint(out / "checkpoint.pth")

    process = start(command(model, data, out, 2, "--resume", "auto"), spec["step_delay"])
    s.term_after = s.after_kill["step"] + 1
    output = wait_for(process, f"[{s.term_after}/")  # both stay in epoch 1 here
    process.send_signal(signal.SIGTERM)
    rest, _ = process.communicate(timeout=120)
    s.term_output, s.term_returncode = output + rest, process.returncode
    s.after_term = load_checkpoint(out / "checkpoint.pth")

    s.resume_output = run_to_end(command(model, data, out, 2, "--resume", "auto"))
    s.interrupted = out
    return s


def test_sigkill_mid_epoch_then_resume_is_bitwise_identical(scenario):
    s = scenario
    assert s.killed_returncode == -signal.SIGKILL
    # The last checkpoint before the kill is a --save_every one, mid-epoch.
    assert 0 < s.after_kill["step"] <= s.kill_step and s.after_kill["step_in_epoch"] > 0
    reference = load_checkpoint(s.reference / "checkpoint.pth")
    final = load_checkpoint(s.interrupted / "checkpoint.pth")
    assert final["step"] == reference["step"] == s.steps
    assert reference["model"].keys() == final["model"].keys()
    for key, value in reference["model"].items():
        assert torch.equal(value, final["model"][key]), f"{s.model}: {key} differs after kill + resume"
    for group, (a, b) in enumerate(
        zip(reference["optimizer"]["state"].values(), final["optimizer"]["state"].values(), strict=True)
    ):
        for name in a:
            assert torch.equal(torch.as_tensor(a[name]), torch.as_tensor(b[name])), (group, name)


def test_sigterm_saves_and_says_how_to_resume(scenario):
    s = scenario
    assert s.term_returncode == 0, s.term_output[-3000:]
    assert "SIGTERM received" in s.term_output
    assert "resume with --resume auto" in s.term_output and str(s.interrupted) in s.term_output
    # Stopped at the end of the step that was running, with that step saved.
    assert s.after_kill["step"] < s.after_term["step"] < s.steps
    saved = f"checkpoint saved: {s.interrupted / 'checkpoint.pth'} (step {s.after_term['step']})"
    assert saved in s.term_output
    assert f"resumed from {s.interrupted / 'checkpoint.pth'}" in s.resume_output


def test_loss_curve_is_the_same_with_0_and_2_workers_and_across_resumes(scenario):
    reference = (scenario.reference / "loss.txt").read_text().splitlines()
    interrupted = (scenario.interrupted / "loss.txt").read_text().splitlines()
    assert [int(line.split()[0]) for line in reference] == list(range(1, scenario.steps + 1))
    assert interrupted == reference
