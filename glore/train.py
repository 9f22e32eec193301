"""Fine-tune GloRe (ResNet-50-lite 3D with GloRe units) on UCF-101.

    python -m glore.train --data_path D --pretrained resnet50-lite_3d_8x8_w-glore_2-3_ep-0000.pth
    torchrun --nproc_per_node 8 -m glore.train --data_path D --batch_size 16 --lr 0.004 ...

D holds ucf101_{train,val}_split_N_{rawframes,videos}.txt and rawframes/ or videos/ (see
glore/README.md; `python -m glore.data.prepare` makes them from the official split files).
Each step takes --batch_size clips per device: 8 frames, 8 apart, augmented as the reference
(glore/data/transforms.py) in the loader workers, or with --pixels_on device in the training
process on its device (glore/data/device_augment.py). Loss: cross-entropy. Solver and schedule:
glore/optim.py.
After every epoch the whole val list is scored with one centred clip per video (exact under
torchrun, glore.inference.evaluate) and a checkpoint is written; --resume auto continues bitwise where a
run stopped.
"""

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from common import distributed
from common.cli import (
    ValuesAction,
    add_auto_bool_flag,
    add_pixels_on_flag,
    add_runtime_args,
    count,
    non_negative_float,
    number,
    positive_float,
    positive_int,
    probability,
)
from common.device import synchronize
from common.errors import UserError, run_cli
from common.loader import RunSteps, make_loader
from common.logs import ThroughputMeter
from common.runtime import setup_runtime
from common.steps import StepRecorder
from common.training_run import TrainingRun
from glore.data.clips import ClipInput
from glore.data.dataset import TrainClips, TrainOrder, collate_clips, collate_frames
from glore.data.device_augment import DeviceAugment
from glore.data.layout import SplitData, load_split
from glore.data.transforms import (
    ASPECT_RATIO,
    FLIP_PROB,
    HLS_MAX,
    JITTER,
    SHORT_SIDE,
    TrainTransform,
    normalize_clips,
)
from glore.inference.report import evaluate_and_report
from glore.inference.scoring import evaluate_videos
from glore.model import GloReNet, canonical_network_name, to_channels_last
from glore.optim import build_lr_scheduler, build_optimizer, move_schedule_to
from glore.precise_bn import update_bn_stats
from glore.weights import load_pretrained

PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"
# The networks the reference released Kinetics-400 checkpoints of.
RELEASED_NETWORKS = ("resnet50", "resnet101")
NOT_VALIDATED = {"top1": math.nan, "top5": math.nan, "loss": math.nan}


@dataclass
class Data:
    split: SplitData  # the records and class names of the split
    loader: torch.utils.data.DataLoader  # this rank's training batches, keyed by (epoch, index)
    steps: RunSteps  # the loader's batch sampler


def load_data(args, rt) -> Data:
    """Records of the split, and this rank's training loader."""
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
        split.train, transform, args.seed, args.clip_len, args.interval, args.skip_bad, args.pixels_on
    )
    try:
        order = TrainOrder(len(dataset), args.batch_size, args.seed, rt.rank, rt.world_size)
    except ValueError as error:
        raise UserError(f"{split.root}: {error}") from None
    steps = RunSteps(order.steps_per_epoch, args.epochs, batch_at=order)
    collate = collate_frames if args.pixels_on == "device" else collate_clips
    loader = make_loader(
        dataset, steps, workers=args.workers, device=rt.device, collate_fn=collate, seed=args.seed
    )
    return Data(split, loader, steps)


def resolve_pretrained(value: str, network: str) -> str | None:
    """--pretrained: a path, 'none', or 'auto' (the released Kinetics-400 checkpoint in
    glore/pretrained/, an error when it is missing: random initialisation ends far below the
    Kinetics-pretrained accuracy, and a silent fallback is found out after days of training)."""
    if value.lower() in ("", "none"):
        return None
    if value != "auto":
        return value
    path = PRETRAINED_DIR / f"{network}-lite_3d_8x8_w-glore_2-3_ep-0000.pth"
    if path.is_file():
        return str(path)
    if network not in RELEASED_NETWORKS:
        raise UserError(
            f"--pretrained auto: no Kinetics-400 weights are released for {network} (only for "
            f"{', '.join(RELEASED_NETWORKS)}); pass --pretrained PATH, or train from random "
            "initialisation on purpose with --pretrained none"
        )
    raise UserError(
        f"--pretrained auto: no Kinetics-400 weights at {path}; download {path.name} (linked from "
        "the README of github.com/facebookresearch/GloRe) into that folder, pass --pretrained PATH, "
        "or train from random initialisation on purpose with --pretrained none"
    )


def build_model(args, rt, num_classes: int):
    """The network with its pretrained weights; returns it and the names of the parameters that
    came from the file (they get --pretrained_lr_mult)."""
    path = resolve_pretrained(args.pretrained, args.network)
    model = GloReNet(num_classes, network=args.network, dropout=args.dropout)
    pretrained = set()
    if path:
        report = load_pretrained(model, path)
        pretrained = report.loaded_parameters(model)
        rt.log.info(report.summary(path))
    model = model.to(rt.device)
    if args.channels_last:
        model = to_channels_last(model)
    return model, pretrained


def batch_input(args, device: torch.device):
    """A function from a training batch to the model's input on `device`: the loader's augmented
    clips normalised, or under --pixels_on device the raw frames augmented there."""
    if args.pixels_on == "device":
        augment = DeviceAugment(args.crop_size, device, args.channels_last)
        return lambda batch: augment(batch["frames"], batch["draws"], batch["noise_seeds"])
    return lambda batch: normalize_clips(batch["clips"], device, args.channels_last)


def train_one_epoch(model, criterion, optimizer, lr_scheduler, batches, to_model_input, rt, args, run, meter):
    """The steps of epoch ``run.state.epoch`` that are left, taken from ``batches`` (the run's
    loader iterator) and turned into model inputs by ``to_model_input``; returns why it stopped
    early (or None). After each step ``run.after_step()`` saves when due."""
    model.train()
    state = run.state
    steps = StepRecorder(
        rt,
        meter,
        total=state.steps_per_epoch,
        print_freq=args.print_freq,
        desc=f"epoch {state.epoch + 1}/{args.epochs}",
        samples=args.batch_size * rt.world_size,
        rate_name="clips_per_s",
    )
    reason = None
    for batch in steps.timed(run.epoch_batches(batches)):
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
                    f"step {state.step + 1}: {ranks_without_clips} process(es) had no readable "
                    "clip; no process trains on this step"
                )
        state.skipped += skipped
        loss_value = None
        if has_clips:
            clips = to_model_input(batch)
            labels = torch.tensor(batch["labels"], device=rt.device)
            with rt.amp.autocast():
                logits = model(clips)
            loss = criterion(logits.float(), labels)
            loss_value = rt.amp.checked_loss(loss, state.step + 1)
            optimizer.zero_grad(set_to_none=True)
            rt.amp.backward_and_step(loss, optimizer)
        lr_scheduler.step()
        synchronize(rt.device)
        state.took_step(loss_value)
        lr = optimizer.param_groups[0]["lr"] / optimizer.param_groups[0]["lr_mult"]
        steps.done(state.step, state.step_in_epoch, state.last_loss, lr)
        reason = run.after_step()
        if reason:
            break
    steps.close()
    return reason


def clip_accuracy(model, split, rt, args, bn_loader=None, to_model_input=None) -> dict:
    """Clip accuracy (one centred clip per video) on the whole val list, after re-estimating the
    BN statistics on ``bn_loader``'s training batches (made into inputs by ``to_model_input``) when
    given (precise BN). The numbers come from glore.inference.scoring, the same code as the
    evaluation report's."""
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
        channels_last=args.channels_last,
    )
    return {**result.clip_accuracy(), "loss": result.clip_loss()}


def validate(model, data: Data, rt, args, state, to_model_input) -> dict:
    """``clip_accuracy`` after the last step of ``state``, with precise BN on the first training
    batches of that step's epoch when asked; logged and written to TensorBoard."""
    # Validation must not move the training random streams (dropout), or a run that stopped and
    # validated mid-epoch would continue differently from one that did not.
    with torch.random.fork_rng(devices=[rt.device] if rt.device.type == "cuda" else []):
        bn_loader = None
        if args.precise_bn_batches > 0:
            last_epoch = state.epoch - 1 if state.step_in_epoch == 0 else state.epoch
            batches = data.steps.first_steps(last_epoch, args.precise_bn_batches)
            bn_loader = make_loader(
                data.loader.dataset,
                batches,
                workers=min(data.loader.num_workers, len(batches)),
                device=rt.device,
                collate_fn=data.loader.collate_fn,
            )
        val = clip_accuracy(model, data.split, rt, args, bn_loader, to_model_input)
    rt.log.info(
        f"validation after step {state.step}: clip top-1 {val['top1']:.2f}%  top-5 "
        f"{val['top5']:.2f}%  loss {val['loss']:.4f}  ({val['videos']} videos, 1 centred clip each)"
    )
    rt.tensorboard.add_scalar("val/top1", val["top1"], state.step)
    rt.tensorboard.add_scalar("val/top5", val["top5"], state.step)
    return val


def clip_input(args) -> ClipInput:
    return ClipInput(args.clip_len, args.interval, args.crop_size, args.resize)


def continue_schedule(run, saved: dict, class_names: list[str]) -> None:
    """After a resume: refuse other classes; a checkpoint with another global batch counted its
    steps in its own batches, which the run counts again in this run's (TrainingRun's
    counts_steps="batches"): the lr schedule and loss.txt follow."""
    if list(saved.get("class_names", class_names)) != class_names:
        raise UserError(f"{run.rt.checkpoints.last} was trained on other classes than the data lists")
    if run.state.step != saved["step"]:
        move_schedule_to(run.lr_scheduler, run.state.step)
        run.rt.losses.drop_after(run.state.step)


def check_args(args) -> None:
    """What parsing cannot check: the network's name and flags against each other (run before
    anything starts, and all that --check_args does with the output folder's checks)."""
    try:
        args.network = canonical_network_name(args.network)
    except ValueError as error:
        raise UserError(f"--network: {error}") from None
    for flag in ("short_side", "aspect_ratio"):
        low, high = getattr(args, flag)
        if low > high:
            raise UserError(f"--{flag} {low} {high}: the first (MIN) is above the second (MAX)")
    smallest = min(args.short_side[0], args.resize)
    if args.crop_size > smallest:
        which = (
            f"--short_side MIN {args.short_side[0]}"
            if smallest == args.short_side[0]
            else f"--resize {args.resize}"
        )
        raise UserError(
            f"--crop_size {args.crop_size} is above {which}: the crop must fit in the resized frames"
        )
    pretrained = resolve_pretrained(args.pretrained, args.network)  # 'auto' without its file: refused
    if pretrained is not None and not Path(pretrained).is_file():
        raise UserError(f"--pretrained {pretrained}: no such file")


def main(args):
    check_args(args)  # also run by run_cli; main() is called directly by the tests
    rt = setup_runtime(args)
    data = load_data(args, rt)
    to_model_input = batch_input(args, rt.device)
    model, pretrained = build_model(args, rt, len(data.split.class_names))
    optimizer = build_optimizer(
        model, pretrained, args.lr, args.momentum, args.weight_decay, args.pretrained_lr_mult
    )
    lr_scheduler = build_lr_scheduler(
        optimizer,
        data.steps.steps_per_epoch,
        args.epochs,
        args.warmup_epochs,
        args.lr_schedule,
        args.lr_steps,
        args.lr_gamma,
    )
    model_ddp = rt.wrap_model(model)

    def validate_now():
        return validate(model_ddp, data, rt, args, run.state, to_model_input)

    run = TrainingRun(
        rt,
        model,
        optimizer,
        lr_scheduler,
        steps_per_epoch=data.steps.steps_per_epoch,
        epochs=args.epochs,
        max_steps=args.max_steps,
        save_every=args.save_every,
        validate=validate_now,
        val=NOT_VALIDATED,
        skipped_key="skipped_videos",
        extras={"class_names": data.split.class_names},
        counts_steps="batches",  # the schedule is in epochs
        model_info={"model": "GloRe", "network": args.network, "classes": len(data.split.class_names)},
    )
    saved = run.resume(args.resume, args.batch_size)
    if saved:
        continue_schedule(run, saved, data.split.class_names)
    if args.test_only:
        return test_only(model, data.split, rt, args)
    log_recipe(model, args, rt, data.steps.steps_per_epoch)

    meter = ThroughputMeter(warmup_steps=5)
    criterion = nn.CrossEntropyLoss()
    with run.batches(data.loader, data.steps) as batches:
        while run.next_epoch():
            reason = train_one_epoch(
                model_ddp, criterion, optimizer, lr_scheduler, batches, to_model_input, rt, args, run, meter
            )
            run.end_epoch(reason)
    return finish(run, meter, args, data)


def test_only(model, split, rt, args) -> int:
    """--test_only: glore.evaluate's report on the resumed (or pretrained) weights."""
    evaluate_and_report(
        model,
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
        channels_last=args.channels_last,
        checkpoint=rt.checkpoints.last or args.pretrained or "random init",
        split=args.split,
    )
    rt.finish()
    return 0


def log_recipe(model, args, rt, steps_per_epoch: int) -> None:
    rt.log.info(
        f"{args.network} GloRe: {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M "
        f"parameters; {steps_per_epoch} steps per epoch of {args.batch_size} x {rt.world_size} clips; "
        f"lr {args.lr} ({args.lr_schedule}, warm-up {args.warmup_epochs} epoch(s))"
    )


def finish(run, meter, args, data) -> int:
    """The closing log line and result.json (the ModelZoo summary's figures)."""
    fps, val = meter.samples_per_sec, run.state.val
    return run.finish(
        summary=f"done: {run.steps_done()}, {fps:.2f} clips/s, data wait "
        f"{100 * meter.data_wait_fraction:.1f}% of step time; val clip top-1 {val['top1']:.2f}%",
        skipped_what="unreadable training clips were skipped",
        network="GloRe",
        batch_size=args.batch_size * run.rt.world_size,
        fps=fps,
        fps_unit="clips/s",
        accuracy=val["top1"],
        accuracy_name="val clip top-1 (%, 1 centred clip per video, whole list)",
        extra={"val_top5": val["top5"], "data_wait_fraction": meter.data_wait_fraction},
        data={
            "UCF-101": f"{data.split.root} ({data.split.data_format})",
            "split": f"UCF-101 split {args.split} (ucf101_train_split_{args.split}_* lists for training, "
            f"ucf101_val_split_{args.split}_* for validation)",
            "training videos": len(data.split.train),
            "validation videos": len(data.split.val),
            "classes": len(data.split.class_names),
        },
    )


def get_args_parser():
    parser = argparse.ArgumentParser(
        description="Fine-tune GloRe on UCF-101.", formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    data = parser.add_argument_group("data")
    data.add_argument("--data_path", required=True, help="UCF-101 root (the ucf101/ folder or its parent)")
    data.add_argument("--split", type=int, default=1, choices=(1, 2, 3), help="UCF-101 split (1, 2 or 3)")
    data.add_argument(
        "--data_format",
        default="auto",
        choices=("auto", "rawframes", "videos"),
        help="read extracted frames or decode videos (auto: rawframes if listed)",
    )
    data.add_argument("--clip_len", type=positive_int, default=ClipInput.clip_len, help="frames per clip")
    data.add_argument(
        "--interval",
        "--frame_interval",
        dest="interval",
        type=positive_int,
        default=ClipInput.interval,
        help="frames between two sampled frames",
    )
    augment = parser.add_argument_group("augmentation (one draw per clip)")
    augment.add_argument(
        "--crop_size",
        type=positive_int,
        default=ClipInput.crop_size,
        help="side of the square crop fed to the network, in training and validation (at most the "
        "smaller --short_side and --resize)",
    )
    augment.add_argument(
        "--short_side",
        action=ValuesAction,
        item_type=positive_int,
        count=2,
        default=list(SHORT_SIDE),
        metavar="MIN MAX",
        help="RandomScale: short side before the crop, drawn in [MIN, MAX] (also MIN,MAX)",
    )
    augment.add_argument(
        "--aspect_ratio",
        action=ValuesAction,
        item_type=positive_float,
        count=2,
        default=list(ASPECT_RATIO),
        metavar="MIN MAX",
        help="aspect ratio of the crop, drawn in [MIN, MAX] (also MIN,MAX)",
    )
    augment.add_argument(
        "--flip_prob", type=probability, default=FLIP_PROB, help="horizontal flip probability"
    )
    augment.add_argument(
        "--hls",
        action=ValuesAction,
        item_type=count,
        count=3,
        default=list(HLS_MAX),
        metavar="H L S",
        help="RandomHLS: maximum shifts of hue, lightness, saturation (also H,L,S)",
    )
    augment.add_argument("--jitter", type=non_negative_float, default=JITTER, help="PixelJitter: noise bound")
    add_pixels_on_flag(augment, "--augment_on", "the training augmentation (crop, resize, flip, HLS, jitter)")
    augment.add_argument(
        "--resize",
        type=positive_int,
        default=ClipInput.resize,
        help="validation: short side before the centre crop",
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
        "'auto': glore/pretrained/<network>-lite_3d_8x8_w-glore_2-3_ep-0000.pth (an error when it is "
        "missing); "
        "'none': random init",
    )
    model.add_argument(
        "--dropout", type=number(float, least=0, below=1), default=0.5, help="dropout before the classifier"
    )
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
        type=positive_int,
        default=4,
        help="clips per device per step",
    )
    solver.add_argument(
        "--lr", type=positive_float, default=0.001, help="learning rate of new layers after warm-up"
    )
    solver.add_argument(
        "--pretrained_lr_mult",
        type=non_negative_float,
        default=0.5,
        help="lr multiplier of the layers loaded from --pretrained",
    )
    solver.add_argument("--momentum", type=number(float, least=0, below=1), default=0.9, help="SGD momentum")
    solver.add_argument(
        "--weight_decay",
        "--wd",
        dest="weight_decay",
        type=non_negative_float,
        default=1e-4,
        help="weight decay (not on biases)",
    )
    solver.add_argument("--epochs", type=positive_int, default=90, help="passes over the training list")
    solver.add_argument("--warmup_epochs", type=non_negative_float, default=2.0, help="linear warm-up length")
    solver.add_argument(
        "--lr_schedule",
        default="step",
        choices=("step", "cosine"),
        help="after the warm-up: x --lr_gamma at each of --lr_steps, or a cosine decay to 0",
    )
    solver.add_argument(
        "--lr_steps",
        action=ValuesAction,
        item_type=non_negative_float,
        default=[40, 70],
        metavar="EPOCH",
        help="step schedule: epochs at which the lr is multiplied by --lr_gamma (also 40,70)",
    )
    solver.add_argument(
        "--lr_gamma", type=positive_float, default=0.1, help="step schedule: the lr multiplier at each step"
    )
    solver.add_argument("--max_steps", type=count, default=0, help="stop after this many steps (0: no limit)")
    evaluation = parser.add_argument_group("validation")
    evaluation.add_argument(
        "--val_batch_size", type=positive_int, default=16, help="clips per validation forward pass"
    )
    evaluation.add_argument(
        "--test_only",
        "--test-only",
        dest="test_only",
        action="store_true",
        help="only evaluate the --resume (or --pretrained) weights on the whole val list, clip and video "
        "accuracy, with glore.inference.evaluate's report in --output_dir",
    )
    evaluation.add_argument(
        "--test_clips", type=positive_int, default=10, help="--test_only: clips per video"
    )
    evaluation.add_argument("--test_crops", type=positive_int, default=3, help="--test_only: crops per clip")
    evaluation.add_argument(
        "--precise_bn_batches",
        type=count,
        default=0,
        help="re-estimate BN statistics on this many training batches before each validation (0: off)",
    )
    add_runtime_args(parser)
    return parser


if __name__ == "__main__":
    raise SystemExit(run_cli(main, get_args_parser(), check=check_args))
