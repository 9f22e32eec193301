"""Fine-tune GloRe (ResNet-50-lite 3D with GloRe units) on UCF-101.

    python -m glore.train --data_path D --pretrained resnet50-lite_3d_8x8_w-glore_2-3_ep-0000.pth
    torchrun --nproc_per_node 8 -m glore.train --data_path D --batch_size 16 --lr 0.004 ...

D holds ucf101_{train,val}_split_N_{rawframes,videos}.txt and rawframes/ or videos/ (see
glore/README.md; `python -m glore.data.prepare` makes them from the official split files).
Each step takes --batch_size clips per device: 8 frames, 8 apart, augmented as the reference
(glore/data/transforms.py) in the loader workers, or with --augment_on device in the training
process on its device (glore/data/device_augment.py). Loss: cross-entropy. Solver and schedule:
glore/optim.py.
After every epoch the whole val list is scored with one centred clip per video (exact under
torchrun, glore.inference.evaluate) and a checkpoint is written; --resume auto continues bitwise where a
run stopped.
"""

import argparse
import itertools
import math
from pathlib import Path

import torch
from torch import nn

from common import distributed
from common.cli import add_auto_bool_flag, add_runtime_args
from common.device import synchronize
from common.errors import UserError, run_cli
from common.logs import ThroughputMeter
from common.prefetch import BackgroundIterator
from common.runtime import setup_runtime
from common.steps import StepRecorder
from common.summary import write_result
from glore.data.clips import ClipInput
from glore.data.dataset import (
    AUGMENT_ON,
    TrainClips,
    collate_clips,
    collate_frames,
    loader_worker_init,
    single_threaded_opencv,
)
from glore.data.device_augment import DeviceAugment
from glore.data.layout import load_split
from glore.data.samplers import TrainBatchSampler
from glore.data.transforms import TrainTransform, normalize_clips
from glore.inference.report import evaluate_and_report
from glore.inference.scoring import evaluate_videos
from glore.model import GloReNet, canonical_network_name, to_channels_last
from glore.optim import build_lr_scheduler, build_optimizer, move_schedule_to
from glore.precise_bn import update_bn_stats
from glore.weights import load_pretrained

PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"


def load_data(args, rt):
    """Records of the split, and this rank's training loader (batches keyed by (epoch, index))."""
    split = load_split(args.data_path, args.split, args.data_format)
    rt.log.info(
        f"UCF-101 split {args.split} from {split.root} ({split.data_format}): {len(split.train)} "
        f"training and {len(split.val)} validation videos, {len(split.class_names)} classes"
    )
    transform = TrainTransform(
        args.crop_size,
        tuple(args.short_side),
        tuple(args.aspect_ratio),
        args.flip_prob,
        tuple(args.hls),
        args.jitter,
    )
    dataset = TrainClips(
        split.train, transform, args.seed, args.clip_len, args.interval, args.skip_bad, args.augment_on
    )
    single_threaded_opencv()  # before any loader forks its workers
    try:
        sampler = TrainBatchSampler(
            len(dataset), args.batch_size, args.seed, args.epochs, rt.rank, rt.world_size
        )
    except ValueError as error:
        raise UserError(f"{split.root}: {error}") from None
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=args.workers,
        collate_fn=collate_frames if args.augment_on == "device" else collate_clips,
        pin_memory=rt.device.type == "cuda",
        worker_init_fn=loader_worker_init,
        prefetch_factor=4 if args.workers > 0 else None,
        # The loader's own generator: creating an iterator then leaves the global torch RNG
        # (dropout's) untouched, which keeps resumed runs bitwise equal to uninterrupted ones.
        generator=torch.Generator().manual_seed(args.seed),
    )
    return split, loader, sampler


def resolve_pretrained(value: str, network: str, log) -> str | None:
    """--pretrained: a path, 'none', or 'auto' (the released Kinetics-400 checkpoint in
    glore/pretrained/ when it is there)."""
    if value.lower() in ("", "none"):
        return None
    if value != "auto":
        return value
    path = PRETRAINED_DIR / f"{network}-lite_3d_8x8_w-glore_2-3_ep-0000.pth"
    if path.is_file():
        return str(path)
    log.warning(
        f"--pretrained auto: no {path}; training from random initialisation, which ends far below "
        "the Kinetics-pretrained accuracy (glore/README.md says where the weights come from)"
    )
    return None


def build_model(args, rt, num_classes: int):
    """The network with its pretrained weights; returns it and the names of the parameters that
    came from the file (they get --pretrained_lr_mult)."""
    model = GloReNet(num_classes, network=args.network, dropout=args.dropout)
    pretrained = set()
    path = resolve_pretrained(args.pretrained, args.network, rt.log)
    if path:
        report = load_pretrained(model, path)
        pretrained = report.loaded_parameters(model)
        rt.log.info(
            f"loaded {len(report.loaded)} tensors from {path}"
            + (f"; skipped {report.skipped} (another class count)" if report.skipped else "")
            + (f"; {len(report.kept_init)} keep their initial values" if report.kept_init else "")
        )
    model = model.to(rt.device)
    if args.channels_last:
        model = to_channels_last(model)
    return model, pretrained


def batch_input(args, device: torch.device):
    """A function from a training batch to the model's input on `device`: the loader's augmented
    clips normalised, or under --augment_on device the raw frames augmented there."""
    if args.augment_on == "device":
        augment = DeviceAugment(args.crop_size, device, args.channels_last)
        return lambda batch: augment(batch["frames"], batch["draws"], batch["noise_seeds"])
    return lambda batch: normalize_clips(batch["clips"], device, args.channels_last)


def train_one_epoch(
    model, criterion, optimizer, lr_scheduler, batches, to_model_input, rt, args, state, meter, on_step
):
    """The steps of epoch `state['epoch']` from `state['step_in_epoch']` on, taken from `batches`
    (the run's loader iterator) and turned into model inputs by `to_model_input`. `on_step` saves
    periodic checkpoints and returns a reason to stop early (or None)."""
    model.train()
    steps = StepRecorder(
        rt,
        meter,
        total=state["steps_per_epoch"],
        print_freq=args.print_freq,
        desc=f"epoch {state['epoch'] + 1}/{args.epochs}",
        samples=args.batch_size * rt.world_size,
        rate_name="clips_per_s",
    )
    reason = None
    for batch in steps.timed(itertools.islice(batches, state["steps_per_epoch"] - state["step_in_epoch"])):
        for message in batch["skipped"]:
            rt.log.warning(f"skipped (--skip_bad): {message}")
        skipped, has_clips = len(batch["skipped"]), bool(batch["labels"])  # no clips: --skip_bad dropped all
        if args.skip_bad and rt.distributed:
            # A rank left without clips cannot join DDP's gradient all-reduce, so then no rank steps;
            # the same collective makes the skip count the job's, equal on every rank (and checkpoint).
            skipped, ranks_without_clips = distributed.sum_ints(skipped, int(not has_clips))
            has_clips = ranks_without_clips == 0
            if not has_clips:
                rt.log.warning(
                    f"step {state['step'] + 1}: {ranks_without_clips} process(es) had no readable "
                    "clip; no process trains on this step"
                )
        state["skipped_videos"] += skipped
        if has_clips:
            clips = to_model_input(batch)
            labels = torch.tensor(batch["labels"], device=rt.device)
            with rt.autocast():
                logits = model(clips)
            loss = criterion(logits.float(), labels)
            rt.check_finite(loss, state["step"] + 1)
            optimizer.zero_grad(set_to_none=True)
            rt.backward_and_step(loss, optimizer)
            state["last_loss"] = loss.item()
        lr_scheduler.step()
        synchronize(rt.device)
        state["step"] += 1
        state["step_in_epoch"] += 1
        lr = optimizer.param_groups[0]["lr"] / optimizer.param_groups[0]["lr_mult"]
        steps.done(state["step"], state["step_in_epoch"], state["last_loss"], lr)
        reason = on_step()
        if reason:
            break
    steps.close()
    return reason


def precise_bn_loader(loader, epoch: int, count: int):
    """The first `count` training batches of `epoch` again, through a loader of their own (the
    run's loader iterator stays where it is)."""
    return torch.utils.data.DataLoader(
        loader.dataset,
        batch_sampler=loader.batch_sampler.epoch_batches(epoch)[:count],
        num_workers=min(loader.num_workers, count),
        collate_fn=loader.collate_fn,
        worker_init_fn=loader.worker_init_fn,
    )


def evaluate(model, split, rt, args, bn_loader=None, to_model_input=None) -> dict:
    """Clip accuracy (one centred clip per video) on the whole val list, after re-estimating the
    BN statistics on `bn_loader`'s training batches (made into inputs by `to_model_input`) when
    given (precise BN). The numbers come from glore.inference.evaluate, the same code as the evaluation
    report's."""
    model_without_ddp = model.module if hasattr(model, "module") else model
    # DDP gives every process rank 0's BN statistics at the start of a training forward, which then
    # updates them with the process's own batch: after the last step they differ. Validate the
    # model the checkpoint holds (rank 0's) on every process.
    distributed.broadcast_buffers(model_without_ddp)
    if bn_loader is not None:
        batches = (batch for batch in bn_loader if batch["labels"])
        used = update_bn_stats(model_without_ddp, batches, to_model_input)
        rt.log.info(f"precise BN: statistics re-estimated on {used} batches")
    result = evaluate_videos(
        model_without_ddp,
        split.val,
        rt,
        clip_input(args),
        batch_size=args.val_batch_size,
        workers=args.workers,
        skip_bad=args.skip_bad,
        print_freq=args.print_freq,
        desc="validation",
    )
    return {**result.clip_accuracy(), "loss": result.clip_loss()}


def clip_input(args) -> ClipInput:
    return ClipInput(args.clip_len, args.interval, args.crop_size, args.resize)


def main(args):
    try:
        args.network = canonical_network_name(args.network)
    except ValueError as error:
        raise UserError(f"--network: {error}") from None
    rt = setup_runtime(args)
    split, loader, sampler = load_data(args, rt)
    to_model_input = batch_input(args, rt.device)
    model, pretrained = build_model(args, rt, len(split.class_names))
    criterion = nn.CrossEntropyLoss()
    optimizer = build_optimizer(
        model, pretrained, args.lr, args.momentum, args.weight_decay, args.pretrained_lr_mult
    )
    steps_per_epoch = sampler.steps_per_epoch
    lr_scheduler = build_lr_scheduler(
        optimizer,
        steps_per_epoch,
        args.epochs,
        args.warmup_epochs,
        args.lr_schedule,
        args.lr_steps,
        args.lr_gamma,
    )
    model_without_ddp = model
    model = rt.wrap_model(model)

    state = {
        "epoch": 0,
        "step": 0,
        "step_in_epoch": 0,
        "steps_per_epoch": steps_per_epoch,
        "last_loss": math.nan,
        "skipped_videos": 0,
    }
    val = {"top1": math.nan, "top5": math.nan, "loss": math.nan}
    checkpoint = rt.resume_path(args.resume)
    if checkpoint:
        saved = rt.restore_training_state(checkpoint, model_without_ddp, optimizer, lr_scheduler)
        if list(saved.get("class_names", split.class_names)) != split.class_names:
            raise UserError(f"{checkpoint} was trained on other classes than {split.root} lists")
        step_in_epoch = rt.resume_step_in_epoch(saved, args.batch_size)
        state.update(
            epoch=saved["epoch"],
            step=saved["epoch"] * steps_per_epoch + step_in_epoch,
            step_in_epoch=step_in_epoch,
            last_loss=saved.get("last_loss", math.nan),
            skipped_videos=saved.get("skipped_videos", 0),
        )
        if state["step"] != saved["step"]:  # saved with another global batch: the schedule counts steps
            move_schedule_to(lr_scheduler, state["step"])
            rt.drop_losses_after(state["step"])
        val = saved.get("val", val)
    if args.test_only:
        evaluate_and_report(
            model_without_ddp,
            split.val,
            split.class_names,
            rt,
            clip_input(args),
            clips=args.test_clips,
            crops=args.test_crops,
            batch_size=args.val_batch_size,
            workers=args.workers,
            skip_bad=args.skip_bad,
            print_freq=args.print_freq,
            checkpoint=checkpoint or args.pretrained or "random init",
            split=args.split,
        )
        rt.finish()
        return 0
    rt.log.info(
        f"{args.network} GloRe: {sum(p.numel() for p in model_without_ddp.parameters()) / 1e6:.2f}M "
        f"parameters; {steps_per_epoch} steps per epoch of {args.batch_size} x {rt.world_size} clips; "
        f"lr {args.lr} ({args.lr_schedule}, warm-up {args.warmup_epochs} epoch(s))"
    )

    def save():
        rt.save_checkpoint(
            rt.training_state(
                model_without_ddp,
                optimizer,
                lr_scheduler,
                epoch=state["epoch"],
                step=state["step"],
                step_in_epoch=state["step_in_epoch"],
                last_loss=state["last_loss"],
                skipped_videos=state["skipped_videos"],
                val=val,
                class_names=split.class_names,
            )
        )

    def on_step():
        if args.save_every and state["step"] % args.save_every == 0:
            save()
        return rt.stop_reason(state["step"], args.max_steps)

    def validate():
        nonlocal val
        # Validation must not move the training random streams (dropout), or a run that stopped
        # and validated mid-epoch would continue differently from one that did not.
        with torch.random.fork_rng(devices=[rt.device] if rt.device.type == "cuda" else []):
            bn_loader = None
            if args.precise_bn_batches > 0:
                last_epoch = state["epoch"] - 1 if state["step_in_epoch"] == 0 else state["epoch"]
                bn_loader = precise_bn_loader(loader, last_epoch, args.precise_bn_batches)
            val = evaluate(model, split, rt, args, bn_loader, to_model_input)
        rt.log.info(
            f"validation after step {state['step']}: clip top-1 {val['top1']:.2f}%  top-5 "
            f"{val['top5']:.2f}%  loss {val['loss']:.4f}  ({val['videos']} videos, 1 centred clip each)"
        )
        rt.tensorboard.add_scalar("val/top1", val["top1"], state["step"])
        rt.tensorboard.add_scalar("val/top5", val["top5"], state["step"])

    meter = ThroughputMeter(warmup_steps=5)
    # A run resumed from a checkpoint already at --max_steps has nothing left to do.
    reason = "max_steps" if args.max_steps and state["step"] >= args.max_steps else None
    sampler.start_at(state["epoch"], state["step_in_epoch"])
    batches = BackgroundIterator(loader) if reason is None and state["epoch"] < args.epochs else None
    try:
        while state["epoch"] < args.epochs and reason is None:
            reason = train_one_epoch(
                model,
                criterion,
                optimizer,
                lr_scheduler,
                batches,
                to_model_input,
                rt,
                args,
                state,
                meter,
                on_step,
            )
            if reason == "signal":
                break
            if reason is None:
                state["epoch"], state["step_in_epoch"] = state["epoch"] + 1, 0
            validate()
            save()
    finally:
        if batches is not None:
            batches.close()
    if reason == "signal":
        save()
        rt.log.warning(rt.resume_hint())
        rt.finish()
        return 0

    fps = meter.samples_per_sec
    rt.log.info(
        f"done: {state['step']} steps, {fps:.2f} clips/s, data wait "
        f"{100 * meter.data_wait_fraction:.1f}% of step time; val clip top-1 {val['top1']:.2f}%"
    )
    if state["skipped_videos"]:
        rt.log.warning(f"{state['skipped_videos']} unreadable training clips were skipped (--skip_bad)")
    if rt.skipped_steps:
        rt.log.warning(f"{rt.skipped_steps} steps skipped by the fp16 GradScaler (gradient overflow)")
    write_result(
        args.output_dir,
        network="GloRe",
        batch_size=args.batch_size * rt.world_size,
        rank_size=rt.world_size,
        fps=fps,
        fps_unit="clips/s",
        accuracy=val["top1"],
        accuracy_name="val clip top-1 (%, 1 centred clip per video, whole list)",
        loss=state["last_loss"],
        is_main=rt.is_main,
        extra={
            "val_top5": val["top5"],
            "data_wait_fraction": meter.data_wait_fraction,
            "steps": state["step"],
            "skipped_videos": state["skipped_videos"],
            "fp16_skipped_steps": rt.skipped_steps,
        },
    )
    rt.finish()
    return 0


def get_args_parser():
    parser = argparse.ArgumentParser(
        description="Fine-tune GloRe on UCF-101.", formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    data = parser.add_argument_group("data")
    data.add_argument("--data_path", required=True, help="UCF-101 root (the ucf101/ folder or its parent)")
    data.add_argument("--split", type=int, default=1, choices=(1, 2, 3))
    data.add_argument(
        "--data_format",
        default="auto",
        choices=("auto", "rawframes", "videos"),
        help="read extracted frames or decode videos (auto: rawframes if listed)",
    )
    data.add_argument("--clip_len", type=int, default=8, help="frames per clip")
    data.add_argument(
        "--interval",
        "--frame_interval",
        dest="interval",
        type=int,
        default=8,
        help="frames between two sampled frames",
    )
    augment = parser.add_argument_group("augmentation (one draw per clip)")
    augment.add_argument("--crop_size", type=int, default=224)
    augment.add_argument(
        "--short_side",
        type=int,
        nargs=2,
        default=[224, 340],
        metavar=("MIN", "MAX"),
        help="RandomScale: short side before the crop",
    )
    augment.add_argument("--aspect_ratio", type=float, nargs=2, default=[0.8, 1.25], metavar=("MIN", "MAX"))
    augment.add_argument("--flip_prob", type=float, default=0.5, help="horizontal flip probability")
    augment.add_argument(
        "--hls",
        type=int,
        nargs=3,
        default=[15, 35, 25],
        metavar=("H", "L", "S"),
        help="RandomHLS: maximum shifts of hue, lightness, saturation",
    )
    augment.add_argument("--jitter", type=float, default=20.0, help="PixelJitter: noise bound")
    augment.add_argument(
        "--augment_on",
        default="loader",
        choices=AUGMENT_ON,
        help="where the training augmentation runs: 'loader' (the workers, with OpenCV) or 'device' "
        "(the workers only read frames and draw the randomness; crop, resize, flip, HLS, jitter run "
        "batched on the training device). 'device' is for GPUs/NPUs whose clip rate the loader's "
        "CPU cores would limit; it also works on the CPU",
    )
    augment.add_argument(
        "--resize", type=int, default=256, help="validation: short side before the centre crop"
    )
    model = parser.add_argument_group("model")
    model.add_argument(
        "--network",
        default="resnet50",
        help="resnet50 | resnet101 | resnet14-tiny (the demo's), or the reference's names",
    )
    model.add_argument(
        "--pretrained",
        default="auto",
        help="Kinetics-400 GloRe checkpoint (…_ep-0000.pth) or 2D ImageNet resnet-lite .pth (inflated); "
        "'auto': glore/pretrained/<network>-lite_3d_8x8_w-glore_2-3_ep-0000.pth if present; "
        "'none': random init",
    )
    model.add_argument("--dropout", type=float, default=0.5)
    add_auto_bool_flag(
        model,
        "--channels_last",
        help="channels-last (NDHWC) memory layout: faster 3D convolutions with oneDNN and cuDNN "
        "(auto: on, except on Ascend NPUs, whose kernels use their own layouts)",
    )
    solver = parser.add_argument_group("solver")
    solver.add_argument(
        "--batch_size",
        "--batch-size",
        dest="batch_size",
        type=int,
        default=4,
        help="clips per device per step",
    )
    solver.add_argument("--lr", type=float, default=0.001, help="learning rate of new layers after warm-up")
    solver.add_argument(
        "--pretrained_lr_mult",
        type=float,
        default=0.5,
        help="lr multiplier of the layers loaded from --pretrained",
    )
    solver.add_argument("--momentum", type=float, default=0.9)
    solver.add_argument(
        "--weight_decay",
        "--wd",
        dest="weight_decay",
        type=float,
        default=1e-4,
        help="weight decay (not on biases)",
    )
    solver.add_argument("--epochs", type=int, default=90)
    solver.add_argument("--warmup_epochs", type=float, default=2.0, help="linear warm-up length")
    solver.add_argument("--lr_schedule", default="step", choices=("step", "cosine"))
    solver.add_argument(
        "--lr_steps",
        type=float,
        nargs="*",
        default=[40, 70],
        help="step schedule: epochs at which the lr is multiplied by --lr_gamma",
    )
    solver.add_argument("--lr_gamma", type=float, default=0.1)
    solver.add_argument("--max_steps", type=int, default=0, help="stop after this many steps (0: no limit)")
    evaluation = parser.add_argument_group("validation")
    evaluation.add_argument(
        "--val_batch_size", type=int, default=16, help="clips per validation forward pass"
    )
    evaluation.add_argument(
        "--test_only",
        "--test-only",
        dest="test_only",
        action="store_true",
        help="only evaluate the --resume (or --pretrained) weights on the whole val list, clip and video "
        "accuracy, with glore.inference.evaluate's report in --output_dir",
    )
    evaluation.add_argument("--test_clips", type=int, default=10, help="--test_only: clips per video")
    evaluation.add_argument("--test_crops", type=int, default=3, help="--test_only: crops per clip")
    evaluation.add_argument(
        "--precise_bn_batches",
        type=int,
        default=0,
        help="re-estimate BN statistics on this many training batches before each validation (0: off)",
    )
    add_runtime_args(parser)
    return parser


if __name__ == "__main__":
    raise SystemExit(run_cli(main, get_args_parser()))
