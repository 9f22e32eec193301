"""Run a model's real train module in this process and record its memory.

    python -m bench.memory_probe RESULT.json MODULE [train args...]

Every train.py reports each step to ``common.logs.ThroughputMeter.update``
(the contract), so wrapping that method marks the step boundaries without
touching the model code: after each step the resident set of this process
and of its loader workers is recorded. At the end RESULT.json holds the
per-step samples, the peak resident set (``getrusage``) of this process and
of its largest worker, and the meter's throughput and data-wait fraction.
"""

import gc
import json
import os
import resource
import runpy
import sys

from common.logs import ThroughputMeter

PAGE_MIB = os.sysconf("SC_PAGE_SIZE") / 2**20


def resident_mib(pid: int | str = "self") -> float:
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * PAGE_MIB
    except (OSError, IndexError, ValueError):
        return 0.0  # the process has just exited


def proportional_mib(pid: int | str = "self") -> float:
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) / 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0.0


def child_pids() -> list[int]:
    pids = []
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/children", encoding="ascii") as handle:
                pids.extend(int(pid) for pid in handle.read().split())
        except OSError:
            continue
    return pids


def main(result_path: str, module: str, train_args: list[str]) -> int:
    samples: list[dict] = []
    meters: list[ThroughputMeter] = []
    original_update = ThroughputMeter.update

    def recording_update(meter, samples_count, step_seconds, data_seconds):
        original_update(meter, samples_count, step_seconds, data_seconds)
        if not meters or meters[-1] is not meter:
            meters.append(meter)
        workers = child_pids()
        samples.append(
            {
                "main_rss_mib": resident_mib(),
                "main_pss_mib": proportional_mib(),
                "workers_pss_mib": sum(proportional_mib(pid) for pid in workers),
            }
        )

    ThroughputMeter.update = recording_update
    sys.argv = [module, *train_args]
    status = 0
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    gc.collect()  # lets finished loaders join their workers, so RUSAGE_CHILDREN counts them
    meter = meters[-1] if meters else None
    result = {
        "status": status,
        "steps": samples,
        "peak_main_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_worker_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "samples_per_sec": meter.samples_per_sec if meter else None,
        "data_wait_fraction": meter.data_wait_fraction if meter else None,
    }
    with open(result_path, "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    return status


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: python -m bench.memory_probe RESULT.json MODULE [train args...]")
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
