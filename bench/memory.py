"""Memory figures: a short 1p training run of each model on its demo data,
the real train module in a subprocess (bench.memory_probe) with the
arguments and environment of the model's demo script (bench.scripts),
reporting

- ``<model>.memory.peak_rss``: peak resident set of the training process
  (the largest loader worker's is in the note);
- ``<model>.memory.growth``: memory growth per step of the training process
  plus its workers (proportional set size, so pages shared after fork count
  once): after the warm-up steps, the peak of the second half of the steps
  minus the peak of the first half, per step between them. Peaks, because
  the level swings by tens of MiB within a step cycle (freed gradients,
  batches in flight) while a leak raises every peak: one leaked GOTURN
  batch per step (8.5 MiB) shows as 8.5 MiB/step;
- ``<model>.train.data_wait``: the share of step time spent waiting for the
  loader (issue 8 asks for under 5 % on the demo data).
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.harness import Figure, not_measured
from bench.scripts import REPO, demo_args, demo_script, script_environment

# Optimizer state, the loader's batches in flight and the heap's high-water
# mark settle in the first steps. The last can take a while: a CPU training
# process keeps freed memory (common/allocator.py), and in about half the
# GOTURN runs the heap grows once more, by one 300 MB fc6-sized block, around
# step 8-10 (a freed block split by smaller allocations no longer fits the
# next one), then stays flat through step 60. A leak keeps growing after it.
WARMUP_STEPS = 12
RUN_TIMEOUT_S = 300


def figure_names(model: str) -> list[str]:
    return [f"{model}.memory.peak_rss", f"{model}.memory.growth", f"{model}.train.data_wait"]


def demo_data(model: str) -> Path:
    """The demo data set where the launcher keeps it, generated once.
    Raises RuntimeError with the generator's error when that fails."""
    folder = REPO / "dataset" / f"{model}_demo"
    completed = subprocess.run(
        [sys.executable, "-m", f"{model}.data.demo", "--out", str(folder)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{model}.data.demo failed: {completed.stderr.strip()[-500:]}")
    return folder


def training_memory(model: str, steps: int, device: str = "cpu") -> list[Figure]:
    module = f"{model}.train"
    arguments = demo_args(model)
    if arguments is None:
        script = demo_script(model).relative_to(REPO)
        return _not_measured(model, f"no demo configuration: no DEMO_ARGS in {script}")
    try:
        data_path = demo_data(model)
    except RuntimeError as error:
        return _not_measured(model, str(error))
    with tempfile.TemporaryDirectory(prefix=f"zoo_bench_{model}_") as folder:
        result_path = Path(folder) / "memory.json"
        command = [
            sys.executable,
            "-m",
            "bench.memory_probe",
            str(result_path),
            module,
            "--data_path",
            str(data_path),
            "--output_dir",
            str(Path(folder) / "run"),
            *arguments,
            "--max_steps",
            str(steps),
            "--device",
            device,
        ]
        try:
            completed = subprocess.run(
                command,
                cwd=REPO,
                capture_output=True,
                text=True,
                env={**os.environ, **script_environment(model)},
                timeout=RUN_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            return _not_measured(model, f"{module} did not finish {steps} steps in {RUN_TIMEOUT_S} s")
        if completed.returncode != 0 or not result_path.exists():
            tail = (completed.stderr or completed.stdout).strip().splitlines()[-3:]
            return _not_measured(model, f"{module} failed (exit {completed.returncode}): {' | '.join(tail)}")
        result = json.loads(result_path.read_text())
    return _figures(model, result, device)


def _not_measured(model: str, reason: str) -> list[Figure]:
    units = ("MiB", "MiB/step", "%")
    return [not_measured(name, unit, reason) for name, unit in zip(figure_names(model), units)]


def growth_per_step(totals: list[float], warmup: int = WARMUP_STEPS) -> float | None:
    """(peak of the later half - peak of the earlier half) / their distance
    in steps, over the steps after ``warmup``; None with under 2 x 2 steps."""
    steady = totals[warmup:]
    half = len(steady) // 2
    if half < 2:
        return None
    return (max(steady[-half:]) - max(steady[:half])) / (len(steady) - half)


def _figures(model: str, result: dict, device: str) -> list[Figure]:
    rows = result["steps"]
    totals = [row["main_pss_mib"] + row["workers_pss_mib"] for row in rows]
    growth = growth_per_step(totals)
    steady = totals[WARMUP_STEPS:] or [0.0]
    peak = result["peak_main_mib"]
    wait = result["data_wait_fraction"]
    wait_percent = None if wait is None else 100 * wait
    steps_note = f"{len(rows)} steps of the demo run"
    worker_note = (
        f"largest loader worker {result['peak_worker_mib']:.0f} MiB RSS (mostly pages shared "
        f"with the process); process + workers at most {max(totals):.0f} MiB PSS"
    )
    return [
        Figure(
            f"{model}.memory.peak_rss",
            peak,
            "MiB",
            peak,
            peak,
            1,
            device,
            0,
            note=f"training process; {worker_note}; {steps_note}",
        ),
        Figure(
            f"{model}.memory.growth",
            growth,
            "MiB/step",
            growth,
            growth,
            1,
            device,
            0,
            note=f"PSS of process + workers after {WARMUP_STEPS} warm-up steps: "
            f"{min(steady):.0f}..{max(steady):.0f} MiB",
        ),
        Figure(
            f"{model}.train.data_wait",
            wait_percent,
            "%",
            wait_percent,
            wait_percent,
            1,
            device,
            0,
            note=f"loader wait / step time after 5 warm-up steps; {steps_note}",
        ),
    ]
