"""A tiny regression trainer built on the shared runtime exactly as the
models' train.py are: the fixture for the runtime's resume, DDP, launcher and
summary tests, small enough to run in a second."""

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from common.cli import add_runtime_args
from common.errors import UserError, run_cli
from common.loader import RunSteps
from common.logs import ThroughputMeter
from common.runtime import setup_runtime
from common.seeding import derive_seed
from common.training_run import TrainingRun

NUM_SAMPLES = 64


class TinyNet(nn.Module):
    def __init__(self, dropout: float):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 1))

    def forward(self, x):
        return self.layers(x)


def load_data(data_path: str):
    if not Path(data_path).is_dir():
        raise UserError(f"--data_path {data_path} is not a directory")
    rng = np.random.default_rng(1234)
    x = rng.standard_normal((NUM_SAMPLES, 8)).astype(np.float32)
    y = (x @ rng.standard_normal((8, 1)) + 0.1).astype(np.float32)
    return torch.from_numpy(x), torch.from_numpy(y)


def epoch_batches(seed: int, epoch: int, batch_size: int, rank: int, world_size: int):
    """This rank's batches of one epoch: index lists, a pure function of
    (seed, epoch), so a resumed run can jump straight to batch k."""
    order = np.random.default_rng(derive_seed(seed, epoch)).permutation(NUM_SAMPLES)
    global_batch = batch_size * world_size
    return [
        order[start + rank * batch_size : start + (rank + 1) * batch_size]
        for start in range(0, NUM_SAMPLES - global_batch + 1, global_batch)
    ]


def main(args):
    if args.private_output_dirs and int(os.environ.get("RANK", 0)) > 0:
        # Ranks above 0 stand for other nodes whose output folder is not shared with rank 0's.
        args.output_dir = f"{args.output_dir}_rank{os.environ['RANK']}"
    rt = setup_runtime(args)
    x, y = load_data(args.data_path)
    model = TinyNet(args.dropout).to(rt.device)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    lr_scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=5, gamma=0.5)
    model_ddp = rt.wrap_model(model)
    steps = RunSteps(
        NUM_SAMPLES // (args.batch_size * rt.world_size), args.epochs, batch_at=batches_of(args, rt)
    )
    run = TrainingRun(
        rt,
        model,
        optimizer,
        lr_scheduler,
        steps_per_epoch=steps.steps_per_epoch,
        epochs=args.epochs,
        max_steps=args.max_steps,
        save_every=args.save_every,
        validate=None,
        val={},
        skipped_key="skipped",
    )
    run.resume(args.resume, args.batch_size)

    meter = ThroughputMeter(warmup_steps=1)
    with run.batches(steps, steps) as batches:
        while run.next_epoch():
            reason = None
            for rows in run.epoch_batches(batches):
                start = time.perf_counter()
                rows = torch.from_numpy(rows)
                inputs, targets = x[rows].to(rt.device), y[rows].to(rt.device)
                inject_faults(args, rt.rank, run.state.step)
                with rt.amp.autocast():
                    loss = nn.functional.mse_loss(model_ddp(inputs).float(), targets)
                if (
                    args.nan_from_step
                    and run.state.step + 1 >= args.nan_from_step
                    and args.nan_rank in (-1, rt.rank)
                ):
                    loss = loss * float("nan")
                loss_value = rt.amp.checked_loss(loss, run.state.step)
                optimizer.zero_grad(set_to_none=True)
                rt.amp.backward_and_step(loss, optimizer)
                lr_scheduler.step()
                run.state.took_step(loss_value)
                meter.update(len(rows) * rt.world_size, time.perf_counter() - start, 0.0)
                rt.losses.append(run.state.step, run.state.last_loss)
                reason = run.after_step()
                if reason:
                    break
            run.end_epoch(reason)
    if run.reason != "signal" and rt.is_main:
        torch.save(model.state_dict(), Path(args.output_dir) / "final_weights.pt")
    return run.finish(
        summary=f"done: {run.steps_done()}",
        skipped_what="skipped",
        network="Tiny",
        batch_size=args.batch_size * rt.world_size,
        fps=meter.samples_per_sec,
        fps_unit="samples/s",
        accuracy=-run.state.last_loss,
        accuracy_name="negative mse",
        extra={},
        data={"rows": "synthetic regression rows"},
    )


def batches_of(args, rt):
    """This rank's batch of step s of an epoch."""
    return lambda epoch, step: epoch_batches(args.seed, epoch, args.batch_size, rt.rank, rt.world_size)[step]


def inject_faults(args, rank: int, step: int) -> None:
    """Test-only faults: a crash on one rank, a slow step to catch a signal in."""
    if step + 1 == args.fail_at_step and rank == args.fail_rank:
        raise RuntimeError(f"injected failure on rank {rank} at step {step + 1}")
    if args.step_seconds:
        time.sleep(args.step_seconds)
    if step == 0 and args.step_seconds:
        print("training started", flush=True)


def get_args_parser():
    parser = argparse.ArgumentParser(description="tiny trainer for the runtime tests")
    parser.add_argument("--data_path", required=True)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--max_steps", type=int, default=0)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--dropout", type=float, default=0.2)
    parser.add_argument("--fail_at_step", type=int, default=0, help="fault injection: raise at this step")
    parser.add_argument("--fail_rank", type=int, default=0)
    parser.add_argument(
        "--nan_from_step", type=int, default=0, help="fault injection: NaN loss from this step on"
    )
    parser.add_argument("--nan_rank", type=int, default=-1, help="the rank with the NaN loss (-1: all)")
    parser.add_argument("--step_seconds", type=float, default=0.0, help="sleep per step")
    parser.add_argument(
        "--private_output_dirs",
        action="store_true",
        help="fault injection: ranks above 0 get output folders of their own",
    )
    return add_runtime_args(parser)


def run_in_process(tmp_path, capsys, *extra):
    """The tiny trainer through run_cli in this process, in ``tmp_path/run``: (exit status,
    stdout, stderr) as a user would see them (``capsys``: pytest's fixture)."""
    argv = ["--data_path", str(tmp_path), "--output_dir", str(tmp_path / "run"), "--tensorboard", "false"]
    try:
        code = run_cli(main, get_args_parser(), [*argv, "--workers", "0", *extra])
    except SystemExit as exit_:
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


if __name__ == "__main__":
    run_cli(main, get_args_parser())
