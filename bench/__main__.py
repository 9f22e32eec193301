"""``python -m bench [--quick] [--only NAME ...] [--json FILE]``: the
performance figures of issue 8, one JSON line each, then a table.

Data figures (GOTURN example generation, GloRe clip loading) run on one core
of the host; steps run on ``--device`` (auto: NPU, then CUDA, then CPU) with
``--step_threads`` CPU threads. Every figure is the median of several timed
runs after a warm-up, each job in a fresh process (bench/jobs.py). See
bench/README.md for what each figure measures.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from bench.harness import not_measured
from bench.jobs import JOBS, Job, Settings, settings_json
from bench.report import (
    environment,
    figure_record,
    format_markdown,
    format_table,
    print_json_lines,
    write_json,
)
from bench.scripts import REPO, script_environment
from common.device import resolve_device
from common.errors import UserError, run_cli

JOB_TIMEOUT_S = 300  # a hung job (e.g. a deadlocked loader worker) costs this much, not the run


def selected(name: str, only: list[str] | None) -> bool:
    return not only or any(name.startswith(prefix) for prefix in only)


def run_job(job: Job, settings: Settings, device: torch.device) -> list[dict]:
    """The job's figure records; a job that fails yields 'not measured'
    records carrying the end of its error output."""
    if job.runs_in_parent(device):
        return [figure_record(figure) for figure in job.run(settings)]
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, **script_environment(job.model), "PYTHONPATH": path}
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "bench.run_job", job.key, settings_json(settings)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=JOB_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        reason = f"job {job.key} did not finish in {JOB_TIMEOUT_S} s"
    else:
        records = [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]
        if completed.returncode == 0 and records:
            return records
        tail = " | ".join((completed.stderr or completed.stdout).strip().splitlines()[-3:])
        reason = f"job {job.key} failed (exit {completed.returncode}): {tail}"
    return [figure_record(not_measured(name, "", reason)) for name in job.names]


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer and shorter runs, without the training-run figures (memory, data "
        "wait) unless --only names them: about a minute",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        help="figures to run, by name or prefix (e.g. goturn.examples glore.step.fp32)",
    )
    parser.add_argument("--list", action="store_true", help="list the figure names and exit")
    parser.add_argument("--json", metavar="FILE", help="also write the run (environment + figures) here")
    parser.add_argument("--markdown", metavar="FILE", help="also write the table as Markdown here")
    parser.add_argument("--device", default="auto", help="where steps run: auto|cpu|cuda|npu[:N]")
    parser.add_argument("--goturn_batch", type=int, default=50, help="GOTURN step batch (examples)")
    parser.add_argument(
        "--glore_batch",
        type=int,
        default=None,
        help="GloRe step/inference batch (clips); default 2 on CPU, 16 on accelerators",
    )
    parser.add_argument("--step_threads", type=int, default=2, help="CPU threads for the model steps")
    return parser


def main(args) -> int:
    names = [name for job in JOBS for name in job.names]
    if args.list:
        print("\n".join(names))
        return 0
    unknown = [prefix for prefix in args.only or [] if not any(selected(n, [prefix]) for n in names)]
    if unknown:
        raise UserError(f"--only {' '.join(unknown)}: no such figure; the figures are {', '.join(names)}")
    device = resolve_device(args.device)
    env_start = environment(device)
    started = time.perf_counter()
    records = []
    with tempfile.TemporaryDirectory(prefix="zoo_bench_") as workdir:
        settings = Settings(
            quick=args.quick,
            device=str(device),
            goturn_batch=args.goturn_batch,
            glore_batch=args.glore_batch or (2 if device.type == "cpu" else 16),
            step_threads=args.step_threads,
            workdir=workdir,
            only=args.only,
        )
        for job in JOBS:
            if not any(selected(name, args.only) for name in job.names):
                continue
            if args.quick and not args.only and not job.in_quick:
                continue
            records_of_job = run_job(job, settings, device)
            chosen = [record for record in records_of_job if selected(record["name"], args.only)]
            print_json_lines(chosen)
            records.extend(chosen)
    env_end = environment(device)
    print()
    print(format_table(records, env_start))
    print(
        f"# {time.perf_counter() - started:.0f} s; load average at the end "
        f"{' '.join(map(str, env_end['load_average']))}"
    )
    command = ["python", "-m", "bench", *sys.argv[1:]]
    if args.json:
        write_json(args.json, records, env_start, env_end, command)
    if args.markdown:
        Path(args.markdown).write_text(format_markdown(records) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, get_args_parser()))
