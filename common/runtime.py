"""Everything a training script needs before its first step, in one call.

    rt = setup_runtime(args)
    model = rt.wrap_model(model.to(rt.device))
    with rt.autocast():
        loss = ...
    rt.backward_and_step(loss, optimizer)

The loop itself stays in each model's train.py.
"""

import json
import math
import platform
import signal
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel

from common import distributed
from common.allocator import setup_host_allocator
from common.checkpoint import LATEST, load_checkpoint, resolve_resume, save_checkpoint
from common.device import prefers_channels_last, resolve_backend, resolve_device, set_current_device
from common.errors import UserError
from common.logs import TensorBoard, setup_logging
from common.precision import autocast, make_grad_scaler, resolve_precision
from common.seeding import rng_state, seed_everything, set_rng_state
from common.summary import LOSS_FILE, RUN_INFO_FILE, write_json_atomically

# fp16 overflow that persists this long is not an overflow: halving the loss
# scale 30 times cannot fix a NaN, so the run stops as an fp32 run would.
MAX_CONSECUTIVE_SKIPS = 30


class NonFiniteLossError(UserError):
    """The loss became NaN or infinite; the message gives the step and the
    checkpoint to resume from."""


class Runtime:
    def __init__(self, args):
        self.args = args
        info = distributed.process_info_from_env()
        self.rank, self.world_size, self.local_rank = info.rank, info.world_size, info.local_rank
        self.distributed, self.is_main = info.distributed, info.is_main

        self.device = resolve_device(args.device, self.local_rank, single_process=not self.distributed)
        set_current_device(self.device)
        setup_host_allocator(self.device)  # before the loader forks its workers: they inherit it
        if getattr(args, "channels_last", False) is None:  # --channels_last auto
            args.channels_last = prefers_channels_last(self.device)
        self.backend = resolve_backend(args.dist_backend, self.device)
        distributed.init_process_group(info, self.backend, args.dist_timeout)

        self.output_dir = Path(args.output_dir)
        if self.is_main:
            self.output_dir.mkdir(parents=True, exist_ok=True)
        distributed.barrier()
        self.log = setup_logging(self.is_main, self.rank, str(self.output_dir / "train.log"))

        self.precision = resolve_precision(args.precision, args.amp, args.opt_level, self.device)
        self.scaler = make_grad_scaler(self.device, self.precision, args.loss_scale)
        self.skipped_steps = 0
        self._consecutive_skips = 0
        seed_everything(args.seed, self.rank)

        use_tensorboard = getattr(args, "tensorboard", True) and self.is_main
        self.tensorboard = TensorBoard(str(self.output_dir / "tensorboard") if use_tensorboard else None)
        self.last_checkpoint: str | None = None
        self._stop_requested = False
        self._install_signal_handlers()
        self._write_run_info()
        self.log.info(
            f"device {self.device} | {self.world_size} process(es), backend "
            f"{self.backend if self.distributed else '-'} | precision {self.precision} | "
            f"torch {torch.__version__} | seed {args.seed}"
        )

    def _write_run_info(self) -> None:
        if not self.is_main:
            return
        info = {
            "device_type": self.device.type,
            "device": str(self.device),
            "world_size": self.world_size,
            "backend": self.backend,
            "precision": self.precision,
            "torch": torch.__version__,
            "python": platform.python_version(),
            "args": {k: v for k, v in vars(self.args).items() if _is_plain(v)},
        }
        write_json_atomically(self.output_dir / RUN_INFO_FILE, info)

    # ---- precision -------------------------------------------------------
    def autocast(self):
        return autocast(self.device, self.precision)

    def backward_and_step(
        self, loss: torch.Tensor, optimizer, max_grad_norm: float | None = None, parameters=None
    ) -> bool:
        """Backward, optional gradient clipping, optimizer step, through the
        GradScaler. Returns False when fp16 overflow made the scaler skip it."""
        self.scaler.scale(loss).backward()
        if max_grad_norm is not None:
            self.scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(parameters, max_grad_norm)
        scale_before = self.scaler.get_scale() if self.scaler.is_enabled() else None
        self.scaler.step(optimizer)
        self.scaler.update()
        if scale_before is not None and self.scaler.get_scale() < scale_before:
            self.skipped_steps += 1
            self._consecutive_skips += 1
            if self._consecutive_skips >= MAX_CONSECUTIVE_SKIPS:
                raise NonFiniteLossError(
                    f"{self._consecutive_skips} fp16 steps in a row overflowed (loss "
                    f"{loss.detach().float().cpu().item()}): the loss is not finite at any scale; "
                    f"stopping. {self._where_to_resume()}"
                )
            return False
        self._consecutive_skips = 0
        return True

    def check_finite(self, loss: torch.Tensor, step: int) -> None:
        """Stop on a NaN/Inf loss, naming the step and where to resume.

        Under fp16 an overflow is expected now and then: the GradScaler skips
        that step and lowers its scale, so it is not an error here."""
        if self.precision == "fp16":
            return
        bad = (~torch.isfinite(loss.detach())).any().float().view(1)
        if self.distributed:
            # Every process stops at this step: one stopping alone would leave the others waiting
            # in the step's gradient all-reduce until --dist_timeout (on other nodes).
            distributed.all_reduce_max(bad)
        if not bad.item():
            return
        value = loss.detach().float().cpu().item()
        what = f"the loss is {value}" if not math.isfinite(value) else "another process's loss is not finite"
        raise NonFiniteLossError(
            f"{what} at step {step}; stopping. Lower --lr or check the data; {self._where_to_resume()}"
        )

    def _where_to_resume(self) -> str:
        if self.last_checkpoint:
            return f"resume from the last good checkpoint {self.last_checkpoint}"
        return "no checkpoint was written yet"

    # ---- model and checkpoints ------------------------------------------
    def wrap_model(self, model: torch.nn.Module) -> torch.nn.Module:
        """Compile (with --compile) and wrap in DDP for multi-process runs."""
        if getattr(self.args, "compile", False):
            self.log.info(
                "--compile: torch.compile; the first steps (and the first step in eval mode) "
                "are slow while the kernels compile"
            )
            model = torch.compile(model)
        if not self.distributed:
            return model
        device_ids = [self.device.index] if self.device.type in ("cuda", "npu") else None
        return DistributedDataParallel(model, device_ids=device_ids)

    def training_state(
        self, model, optimizer, lr_scheduler, *, epoch: int, step: int, step_in_epoch: int, **extras
    ) -> dict:
        """Everything an exact resume needs. ``model`` is the unwrapped model
        (no DDP ``module.`` prefix). Every rank's random streams are kept, so
        dropout and the like continue as if the run had never stopped.
        Collective: call it on every rank."""
        return {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "lr_scheduler": lr_scheduler.state_dict() if lr_scheduler is not None else None,
            "scaler": self.scaler.state_dict(),
            "epoch": epoch,
            "step": step,
            "step_in_epoch": step_in_epoch,
            "world_size": self.world_size,
            "fp16_skipped_steps": self.skipped_steps,
            "rng": distributed.all_gather_object(rng_state()),
            "args": {k: v for k, v in vars(self.args).items() if _is_plain(v)},
            **extras,
        }

    def resume_path(self, resume: str | None) -> str | None:
        """The checkpoint to resume from (``--resume``: a path, ``auto`` or nothing), agreed by
        every process: each looks on its own disk, and they must find the same file. Otherwise
        (several nodes whose output folders are not shared) a node without the file would start
        afresh beside a resumed rank 0: the job diverges, then hangs in a mismatched collective."""
        try:
            mine = (resolve_resume(resume, self.output_dir), None)
        except UserError as error:
            mine = (None, str(error))
        found = distributed.all_gather_object(mine)
        errors = [(rank, error) for rank, (_, error) in enumerate(found) if error]
        if errors:
            rank, error = errors[0]
            raise UserError(error if self.world_size == 1 else f"process {rank}: {error}")
        paths = [path for path, _ in found]
        if len(set(paths)) > 1:
            differing = ", ".join(f"process {rank}: {path or 'none'}" for rank, path in enumerate(paths))
            raise UserError(
                f"the processes find different checkpoints to resume from ({differing}): runs "
                "over several nodes resume from a file every node sees (put --output_dir on "
                "a shared file system, or copy the checkpoint to the same path on every node)"
            )
        return paths[0]

    def restore_training_state(self, path: str, model, optimizer, lr_scheduler) -> dict:
        """Load a checkpoint written by ``training_state`` into the given
        objects; returns it for the caller's counters and extras."""
        state = load_checkpoint(path, map_location="cpu")
        missing = [k for k in ("model", "optimizer", "epoch", "step", "step_in_epoch") if k not in state]
        if missing:
            raise UserError(
                f"checkpoint {path} cannot be resumed from: it lacks {', '.join(missing)} "
                "(a weights-only file? load it with --pretrained instead)"
            )
        model.load_state_dict(state["model"])
        load_optimizer_state(optimizer, state["optimizer"])
        if lr_scheduler is not None and state.get("lr_scheduler") is not None:
            lr_scheduler.load_state_dict(state["lr_scheduler"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.skipped_steps = state.get("fp16_skipped_steps", 0)
        saved_rng = state.get("rng") or []
        if state.get("world_size") == self.world_size and len(saved_rng) == self.world_size:
            set_rng_state(saved_rng[self.rank])
        else:
            self.log.warning(
                f"{path} was written by {state.get('world_size')} process(es), this run "
                f"has {self.world_size}: random streams restart from the seed"
            )
        self.last_checkpoint = str(path)
        self.drop_losses_after(state["step"])
        self.log.info(f"resumed from {path}: epoch {state['epoch']}, step {state['step']}")
        return state

    def resume_step_in_epoch(self, saved: dict, batch_size: int) -> int:
        """The step of the epoch to resume from, in this run's steps. A checkpoint of a run with
        another global batch (processes x per-process batch) counts its steps in that run's
        units. In both models a step takes the next global batch of the epoch's order (rank r
        its r-th share), so the data consumed is a prefix of the epoch; it becomes this run's
        steps rounded down: up to one global batch is seen again, nothing is skipped."""
        saved_batch = int(saved.get("args", {}).get("batch_size", batch_size)) * int(
            saved.get("world_size", self.world_size)
        )
        step = saved["step_in_epoch"]
        if saved_batch == batch_size * self.world_size:
            return step
        converted = step * saved_batch // (batch_size * self.world_size)
        self.log.warning(
            f"the checkpoint's run took {saved_batch} examples per step, this one "
            f"{batch_size * self.world_size}: its step {step} of the epoch is this run's "
            f"step {converted}"
        )
        return converted

    def save_checkpoint(self, state: dict, name: str = LATEST) -> None:
        """Write a checkpoint on rank 0 (atomically); other ranks wait."""
        path = self.output_dir / name
        if self.is_main:
            save_checkpoint(state, path)
            self.log.info(f"checkpoint saved: {path} (step {state.get('step', '?')})")
        self.last_checkpoint = str(path)
        distributed.barrier()

    # ---- progress ---------------------------------------------------------
    def drop_losses_after(self, step: int) -> None:
        """Forget the recorded losses of the steps after ``step`` (they will be run again)."""
        if self.is_main:
            _drop_losses_after(self.output_dir / LOSS_FILE, step)

    def record_loss(self, step: int, value: float) -> None:
        if self.is_main:
            with open(self.output_dir / LOSS_FILE, "a") as handle:
                handle.write(f"{step} {value:.6f}\n")

    # ---- graceful stop ------------------------------------------------------
    def _install_signal_handlers(self) -> None:
        def request_stop(signum, _frame):
            if self._stop_requested:  # a second Ctrl-C means "now"
                raise KeyboardInterrupt
            self._stop_requested = True
            self.log.warning(
                f"{signal.Signals(signum).name} received: saving a checkpoint "
                "at the end of this step, then stopping"
            )

        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, request_stop)

    def should_stop(self) -> bool:
        """True once any rank was asked to stop, on every rank at the same step."""
        if not self.distributed:
            return self._stop_requested
        flag = torch.tensor([float(self._stop_requested)])
        return bool(distributed.all_reduce_max(flag).item())

    def stop_reason(self, step: int, max_steps: int) -> str | None:
        """Why training stops after ``step``: "signal" (SIGTERM/Ctrl-C on any process),
        "max_steps" (``--max_steps`` reached; 0 means no limit), or None to go on."""
        if self.should_stop():
            return "signal"
        if max_steps and step >= max_steps:
            return "max_steps"
        return None

    def resume_hint(self) -> str:
        return (
            f"stopped early; resume with --resume auto --output_dir {self.output_dir} "
            f"(or --resume {self.last_checkpoint})"
        )

    def finish(self) -> None:
        self.tensorboard.close()
        # Every rank reaches the end before any tears its connections down: a
        # gloo rank whose peer closed the pairs first can abort (SIGABRT) on exit.
        distributed.barrier()
        distributed.destroy_process_group()


# How the update is computed is this run's choice, made for its device and precision
# (goturn.optim.fused_update); load_state_dict would restore the saving run's.
UPDATE_IMPLEMENTATION_KEYS = ("fused", "foreach")


def load_optimizer_state(optimizer, saved: dict) -> None:
    """``optimizer.load_state_dict(saved)``, keeping the optimizer's own update
    implementation: a checkpoint from a CUDA run (fused SGD) resumed on an NPU
    or under fp16 must not switch the fused kernel back on."""
    chosen = [{key: group.get(key) for key in UPDATE_IMPLEMENTATION_KEYS} for group in optimizer.param_groups]
    optimizer.load_state_dict(saved)
    for group, implementation in zip(optimizer.param_groups, chosen):
        group.update(implementation)


def _drop_losses_after(loss_file: Path, step: int) -> None:
    """A run killed between checkpoints recorded losses of steps it will redo
    after resuming; drop them so loss.txt holds each step once."""
    if not loss_file.is_file():
        return
    lines = loss_file.read_text().splitlines(keepends=True)
    kept = [
        line
        for line in lines
        if not line.split() or not line.split()[0].isdigit() or int(line.split()[0]) <= step
    ]
    if len(kept) != len(lines):
        temp = loss_file.with_name(loss_file.name + ".tmp")
        temp.write_text("".join(kept))
        temp.replace(loss_file)


def _is_plain(value) -> bool:
    try:
        json.dumps(value)
        return True
    except TypeError:
        return False


def setup_runtime(args) -> Runtime:
    return Runtime(args)
