"""The ModelZoo summary.

Training writes ``result.json`` (what it measured) into its output folder; the
launcher (test/launcher.sh) then runs ``python -m common.summarize`` to print the
three ``Final ...`` lines and write ``${CaseName}.log`` and the per-step loss
file that ModelZoo users and their dashboards read.
"""

import json
import platform
import shlex
import shutil
import sys
from pathlib import Path

import torch

from common.atomic import write_json_atomically

RESULT_FILE = "result.json"
RUN_INFO_FILE = "run_info.json"
LOSS_FILE = "loss.txt"


def command_line() -> str:
    """This process's command, as it can be pasted into a shell."""
    return shlex.join(getattr(sys, "orig_argv", [sys.executable, *sys.argv]))


def write_run_info(output_dir, rt, args: dict) -> None:
    """run_info.json: the device, processes, precision and versions of a run (the summary's
    DeviceType), and its flags."""
    info = {
        "device_type": rt.device.type,
        "device": str(rt.device),
        "world_size": rt.world_size,
        "backend": rt.backend,
        "precision": rt.amp.precision,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "args": args,
        "command": command_line(),
    }
    write_json_atomically(Path(output_dir) / RUN_INFO_FILE, info, sort_keys=True)


def write_result(
    output_dir,
    *,
    network: str,
    batch_size: int,
    rank_size: int,
    fps: float,
    fps_unit: str,
    accuracy: float,
    accuracy_name: str,
    loss: float,
    extra: dict | None = None,
    is_main: bool = True,
) -> None:
    """Record a finished run's figures. ``batch_size`` is the global number of
    examples per step, ``fps`` the global throughput in ``fps_unit``."""
    if not is_main:
        return
    payload = {
        "network": network,
        "batch_size": int(batch_size),
        "rank_size": int(rank_size),
        "fps": float(fps),  # non-finite figures are written as null
        "fps_unit": fps_unit,
        "accuracy": float(accuracy),
        "accuracy_name": accuracy_name,
        "loss": float(loss),
        "extra": extra or {},
    }
    write_json_atomically(Path(output_dir) / RESULT_FILE, payload, sort_keys=True)


def case_name(network: str, batch_size: int, rank_size: int, mode: str) -> str:
    return f"{network}_bs{batch_size}_{rank_size}p_{mode}"


def summary_fields(result: dict, run_info: dict, case: str, e2e_seconds: float) -> dict:
    fps = result["fps"]
    fields = {
        "Network": result["network"],
        "RankSize": result["rank_size"],
        "BatchSize": result["batch_size"],
        "DeviceType": run_info.get("device_type", "unknown"),
        "CaseName": case,
        "ActualFPS": figure(fps, ".3f"),
        "TrainingTime": f"{result['batch_size'] * 1000 / fps:.2f}" if fps else "nan",
        "TrainAccuracy": figure(result["accuracy"], ".4f"),
        "ActualLoss": figure(result["loss"], ".4f"),
        "E2ETrainingTime": f"{e2e_seconds:.0f}",
    }
    for key, value in result.get("extra", {}).items():
        fields[key] = f"{value:.4f}" if isinstance(value, float) else value
    return fields


def figure(value, spec: str) -> str:
    """A number of the summary; ``nan`` for one that was not measured (null in result.json)."""
    return "nan" if value is None else format(value, spec)


def print_summary(run_dir, case_dir, case_name: str, e2e_seconds: float) -> int:
    """Print the summary of the run in ``run_dir`` and write it, with its loss curve, into
    ``case_dir``; 1 when the run wrote no result (it did not finish)."""
    run_dir, case_dir = Path(run_dir), Path(case_dir)
    result_path = run_dir / RESULT_FILE
    if not result_path.is_file():
        print(f"no summary: {result_path} was not written (the run did not finish)")
        return 1
    result = json.loads(result_path.read_text())
    info_path = run_dir / RUN_INFO_FILE
    run_info = json.loads(info_path.read_text()) if info_path.is_file() else {}

    fields = summary_fields(result, run_info, case_name, e2e_seconds)
    # The three lines keep the exact ModelZoo wording that log parsers grep
    # for; what the numbers are is said on the lines after them.
    print(f"Final Performance images/sec : {fields['ActualFPS']}")
    print(f"Final Train Accuracy : {fields['TrainAccuracy']}")
    print(f"E2E Training Duration sec : {fields['E2ETrainingTime']}")
    print(f"(performance in {result['fps_unit']}; accuracy is {result['accuracy_name']})")

    case_dir.mkdir(parents=True, exist_ok=True)
    lines = "".join(f"{key} = {value}\n" for key, value in fields.items())
    (case_dir / f"{case_name}.log").write_text(lines)
    if (run_dir / LOSS_FILE).is_file():
        shutil.copyfile(run_dir / LOSS_FILE, case_dir / f"train_{case_name}_loss.txt")
    return 0
