"""Faults the shared runtime must survive, injected into the tiny trainer:
signals, SIGKILL, a kill in the middle of a checkpoint write, a NaN loss and
a crashing rank."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import torch

from common.checkpoint import load_checkpoint
from tests.conftest import REPO_ROOT, run_python

TINY = ("-m", "tests.helpers.tiny_train", "--tensorboard", "false", "--workers", "0")
ENV = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"}


def start(tmp_path, name, *extra):
    return subprocess.Popen(
        [sys.executable, *TINY, "--data_path", str(tmp_path), "--output_dir", str(tmp_path / name), *extra],
        cwd=REPO_ROOT,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_line(process, text, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if text in line:
            return
        assert line or process.poll() is None, f"process ended before printing {text!r}"
    raise AssertionError(f"no {text!r} within {timeout}s")


def final_weights(tmp_path, name):
    return torch.load(tmp_path / name / "final_weights.pt", weights_only=True)


def finish(tmp_path, name, *extra):
    result = run_python(*TINY, "--data_path", str(tmp_path), "--output_dir", str(tmp_path / name), *extra)
    assert result.returncode == 0, result.stderr[-3000:]
    return final_weights(tmp_path, name)


def assert_same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_sigterm_saves_then_resume_matches_uninterrupted(tmp_path):
    straight = finish(tmp_path, "straight", "--epochs", "6")
    process = start(tmp_path, "stopped", "--epochs", "6", "--step_seconds", "0.05")
    wait_for_line(process, "training started")
    time.sleep(0.3)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "resume with --resume auto" in stdout + stderr
    stopped_at = load_checkpoint(tmp_path / "stopped" / "checkpoint.pth")["step"]
    assert 0 < stopped_at < 48
    assert_same(straight, finish(tmp_path, "stopped", "--epochs", "6", "--resume", "auto"))


def test_sigkill_then_resume_matches_uninterrupted(tmp_path):
    straight = finish(tmp_path, "straight", "--epochs", "6")
    process = start(tmp_path, "killed", "--epochs", "6", "--step_seconds", "0.05", "--save_every", "3")
    wait_for_line(process, "training started")
    time.sleep(0.5)
    process.kill()
    process.communicate(timeout=30)
    assert 0 < load_checkpoint(tmp_path / "killed" / "checkpoint.pth")["step"] < 48
    assert_same(straight, finish(tmp_path, "killed", "--epochs", "6", "--resume", "auto"))


SLOW_SAVE = textwrap.dedent("""
    import sys, time, torch
    from common.checkpoint import save_checkpoint
    path = sys.argv[1]
    save_checkpoint({"version": 1, "w": torch.ones(1000)}, path)
    real_save = torch.save
    def slow_save(obj, handle):
        handle.write(b"x" * 4096)
        handle.flush()
        print("writing", flush=True)
        time.sleep(60)
    torch.save = slow_save
    save_checkpoint({"version": 2, "w": torch.zeros(1000)}, path)
""")


def test_kill_during_checkpoint_write_keeps_previous(tmp_path):
    path = tmp_path / "checkpoint.pth"
    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_SAVE, str(path)],
        cwd=REPO_ROOT,
        env=ENV,
        stdout=subprocess.PIPE,
        text=True,
    )
    wait_for_line(process, "writing")
    process.kill()
    process.wait(timeout=30)
    assert load_checkpoint(path)["version"] == 1
    # The next save clears the dead writer's temporary file.
    assert len(list(tmp_path.iterdir())) == 2
    from common.checkpoint import save_checkpoint

    save_checkpoint({"version": 3}, path)
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pth"]


def test_nan_loss_stops_with_step_and_checkpoint(tmp_path):
    result = run_python(
        *TINY,
        "--data_path",
        str(tmp_path),
        "--output_dir",
        str(tmp_path / "nan"),
        "--epochs",
        "3",
        "--nan_from_step",
        "12",
    )
    assert result.returncode == 2
    message = result.stderr.strip()
    assert "at step 11" in message and str(tmp_path / "nan" / "checkpoint.pth") in message


def test_a_nan_loss_on_one_process_stops_every_process_at_that_step(tmp_path):
    """Rank 1's loss alone turns NaN: both processes stop at that step with the error (rank 0
    was otherwise left waiting in the gradient all-reduce: across nodes until --dist_timeout)."""
    result = run_python(
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        *TINY,
        "--data_path",
        str(tmp_path),
        "--output_dir",
        str(tmp_path / "ddp"),
        "--epochs",
        "3",
        "--nan_from_step",
        "5",
        "--nan_rank",
        "1",
        "--dist_timeout",
        "60",
        timeout=120,
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "error: [rank 1] the loss is nan at step 4" in output
    assert "error: another process's loss is not finite at step 4" in output  # rank 0's


def test_crashing_rank_ends_the_job_quickly(tmp_path):
    started = time.monotonic()
    result = run_python(
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        *TINY,
        "--data_path",
        str(tmp_path),
        "--output_dir",
        str(tmp_path / "ddp"),
        "--epochs",
        "50",
        "--fail_at_step",
        "5",
        "--fail_rank",
        "1",
        "--dist_timeout",
        "20",
        timeout=120,
    )
    assert result.returncode != 0
    assert time.monotonic() - started < 90
    assert "injected failure on rank 1 at step 5" in result.stdout + result.stderr


def test_fp16_overflow_that_never_ends_stops_the_run(tmp_path):
    result = run_python(
        *TINY,
        "--data_path",
        str(tmp_path),
        "--output_dir",
        str(tmp_path / "fp16"),
        "--epochs",
        "20",
        "--precision",
        "fp16",
        "--nan_from_step",
        "3",
        "--save_every",
        "2",
    )
    assert result.returncode == 2
    message = result.stderr.strip()
    assert "30 fp16 steps in a row overflowed" in message
    assert str(tmp_path / "fp16" / "checkpoint.pth") in message


def test_a_second_ctrl_c_stops_at_once_with_one_line(tmp_path):
    """The first Ctrl-C asks for a checkpoint at the end of the step; a second, during that step,
    ends the process at once: one line naming the checkpoint left, no KeyboardInterrupt traceback."""
    # Steps of 4 s: both signals land well inside step 2, even on a loaded machine.
    process = start(tmp_path, "run", "--epochs", "50", "--step_seconds", "4", "--save_every", "1")
    wait_for_line(process, "checkpoint saved")  # step 1 done and saved; step 2 sleeps 4 s
    time.sleep(1.0)  # into step 2's sleep (the stop after step 1 is decided right after the save)
    process.send_signal(signal.SIGINT)
    time.sleep(0.3)
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert time.monotonic() - sent < 2.5, "exited at once, not at the end of the step"
    assert process.returncode == 130
    assert "Traceback" not in stderr
    checkpoint = tmp_path / "run" / "checkpoint.pth"
    assert [line for line in stderr.splitlines() if line.startswith("error:")] == [
        "error: second SIGINT: stopped at once, without saving; resume from the last good checkpoint "
        f"{checkpoint}"
    ]
    assert load_checkpoint(checkpoint)["step"] == 1
