"""Everything a training or evaluation process needs before its first step, in one call.

    rt = setup_runtime(args)
    model = rt.wrap_model(model.to(rt.device))
    with rt.amp.autocast():
        loss = ...
    rt.amp.backward_and_step(loss, optimizer)

The runtime is the device, the process group and the run folder's logs; its parts have one
concern each: ``rt.amp`` (common.precision: autocast, loss scaling, non-finite losses),
``rt.checkpoints`` (common.run_checkpoints: training state, resume, save), ``rt.stop``
(common.stop_control: signals and the stop decision), ``rt.losses`` (loss.txt). The training
loop's skeleton on top of them is common.training_run.
"""

from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel

from common import distributed
from common.allocator import setup_host_allocator
from common.cli import plain_args, trains_in, warn_about_costly_choices
from common.device import prefers_channels_last, resolve_backend, resolve_device, set_current_device
from common.logs import TensorBoard, setup_logging
from common.orphans import die_with_parent, started_by_a_launcher
from common.precision import MixedPrecision
from common.run_checkpoints import RunCheckpoints
from common.run_folder import claim_for_the_run
from common.seeding import seed_everything
from common.steps import LossFile
from common.stop_control import StopControl
from common.summary import LOSS_FILE, write_run_info


class Runtime:
    def __init__(self, args, trains: bool = True):
        self.args = args
        if started_by_a_launcher():
            die_with_parent()  # a killed torchrun or launcher must not leave this rank training
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
        self.folder_lock, folder_note = claim_for_the_run(self.output_dir, args, trains, self.is_main)
        self.log = setup_logging(self.is_main, self.rank, str(self.output_dir / "train.log"))
        if folder_note:
            self.log.info(folder_note)

        self.checkpoints = RunCheckpoints(self)
        self.amp = MixedPrecision(
            args, self.device, self.world_size, self.distributed, self.checkpoints.where_to_resume
        )
        seed_everything(args.seed, self.rank)
        use_tensorboard = getattr(args, "tensorboard", True) and self.is_main
        self.tensorboard = TensorBoard(str(self.output_dir / "tensorboard") if use_tensorboard else None)
        self.losses = LossFile(self.output_dir / LOSS_FILE, enabled=self.is_main)
        self.stop = StopControl(self.log, self.distributed, self.checkpoints.where_to_resume)
        if self.is_main:
            write_run_info(self.output_dir, self, plain_args(args))
        warn_about_costly_choices(args, self.amp.precision, self.device, self.log)
        self.log.info(
            f"device {self.device} | {self.world_size} process(es), backend "
            f"{self.backend if self.distributed else '-'} | precision {self.amp.precision} | "
            f"torch {torch.__version__} | seed {args.seed}"
        )

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

    def resume_hint(self) -> str:
        return (
            f"stopped early; resume with --resume auto --output_dir {self.output_dir} "
            f"(or --resume {self.checkpoints.last})"
        )

    def finish(self) -> None:
        self.tensorboard.close()
        # Every rank reaches the end before any tears its connections down: a
        # gloo rank whose peer closed the pairs first can abort (SIGABRT) on exit.
        distributed.barrier()
        distributed.destroy_process_group()
        if self.folder_lock is not None:
            self.folder_lock.release()


def setup_runtime(args, trains: bool | None = None) -> Runtime:
    """``trains``: a training run, which may not start over another run in its output folder
    (common.run_folder); an evaluation only locks the folder. Default: common.cli.trains_in."""
    return Runtime(args, trains_in(args) if trains is None else trains)
