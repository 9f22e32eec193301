"""Train GOTURN on ALOV300++ and ImageNet DET (the Caffe original's recipe).

    python -m goturn.train --data_path dataset/        # 1 device
    torchrun --nproc_per_node 8 -m goturn.train --data_path dataset/

``--data_path`` holds ``ALOV/`` and ``ILSVRC2014_Det/`` (see README). Each
step takes ``--batch_size`` examples per device (50, the original's batch):
DET and ALOV 1:1, 11 examples per pair, leftovers carried (data/stream.py).
The loss is the L1 distance summed over the batch and the 4 coordinates;
the solver is Caffe's SGD with GOTURN's per-layer multipliers (optim.py).
With pretrained CaffeNet weights the conv towers are frozen (no gradients
are computed for them); without, they are trained too.

Validation uses a fixed set of generated examples from the held-out videos
and folders, seeded independently of ``--seed``, and reports the loss as the
seed did (summed L1 per 50-example batch) and as mean L1 per coordinate.
"""

import argparse
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from common import distributed
from common.cli import (
    add_auto_bool_flag,
    add_bool_flag,
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
from goturn.data.alov import VOT_OVERLAP, load_alov
from goturn.data.imagenet_det import load_imagenet_det
from goturn.data.motion import MotionModel
from goturn.data.records import VAL_FRACTION
from goturn.data.stream import ExampleStream, StreamBatches, to_device
from goturn.model import DEFAULT_NETWORK, NETWORKS, GoturnNet, l1_sum
from goturn.optim import LR_SCHEDULES, OPTIMIZERS, base_lr, build_optimizer, fused_update
from goturn.tracking.lost_target import SCORES
from goturn.tracking.policy import BORDERS, TEMPLATES, TrackingPolicy
from goturn.weights import load_pretrained

# What the --track_* flags record unless given: the original tracker (and the combined score).
ORIGINAL_TRACKING = TrackingPolicy()
# The validation set does not change with --seed, so runs compare.
VAL_SEED = 20160917
# Validation batches always hold 50 examples: the seed's loss is per 50.
VAL_BATCH = 50
VAL_LOSS_NAME = "val loss: summed L1 per 50 examples (lower is better)"
NO_VALIDATION = "not measured: no validation batches (--val_batches 0 or no held-out data)"
NOT_VALIDATED = {"loss": math.nan, "l1_per_coordinate": math.nan}
# A box that did not move, in the units of the search crop around it (the crop is twice its size).
NO_MOTION_UNITS = torch.tensor([2.5, 2.5, 7.5, 7.5])
DEFAULT_CAFFENET = Path(__file__).resolve().parent / "pretrained" / "caffenet_weights.npy"


@dataclass
class Data:
    loader: torch.utils.data.DataLoader  # this rank's training batches
    steps: RunSteps  # the loader's sampler
    val_loader: torch.utils.data.DataLoader | None  # the fixed validation batches
    skipped_at_indexing: dict  # what indexing skipped, per source and split (for result.json)
    description: dict  # the data as the model card names it: where, which split, how much


def load_data(args, rt) -> Data:
    """Index both sources, then build the training batches (this rank's share) and the fixed
    validation batches."""
    alov_root = Path(args.alov_path or Path(args.data_path) / "ALOV")
    det_root = Path(args.imagenet_path or Path(args.data_path) / "ILSVRC2014_Det")
    exclude = VOT_OVERLAP if args.exclude_vot_overlap else ()
    tables, skipped = {}, {}
    for split in ("train", "val"):
        det, det_report = load_imagenet_det(det_root, split, args.val_fraction, args.skip_bad)
        alov, alov_report = load_alov(alov_root, split, args.val_fraction, exclude, args.skip_bad)
        for report in (det_report, alov_report):
            rt.log.info(report.summary())
            if report.skipped:
                skipped[f"{report.source} {report.split}"] = dict(report.skipped)
            for example in report.examples:
                rt.log.info(f"  e.g. {example}")
        tables[split] = [det, alov]

    motion = MotionModel(args.lamda_shift, args.lamda_scale, args.min_scale, args.max_scale)
    generator = (args.examples_per_pair, motion, args.skip_bad, args.pixels_on)
    train_stream = ExampleStream(
        tables["train"], args.batch_size, args.seed, *generator, target_jitter=target_jitter(args)
    )
    train_batches = StreamBatches(train_stream, rt.rank, rt.world_size)
    steps = RunSteps(len(train_batches), args.epochs)
    loader = make_loader(train_batches, steps, workers=args.workers, device=rt.device)
    rt.log.info(
        f"training stream: {train_stream.units_per_epoch} pairs/objects per epoch x "
        f"{train_stream.examples_per_unit} examples = {train_stream.batches_per_epoch} batches of "
        f"{args.batch_size}; {len(train_batches)} steps per epoch on {rt.world_size} process(es); "
        f"crops cut {'by cv2 in the loader' if args.pixels_on == 'loader' else f'on {rt.device}'}"
    )

    val_loader = None
    if args.val_batches > 0 and any(len(table) for table in tables["val"]):
        val_stream = ExampleStream(tables["val"], VAL_BATCH, VAL_SEED, *generator)
        num_val = min(args.val_batches, val_stream.batches_per_epoch)
        keys = [(0, index) for index in range(rt.rank, num_val, rt.world_size)]
        val_loader = make_loader(
            StreamBatches(val_stream), keys, workers=min(args.workers, len(keys)), device=rt.device
        )
        rt.log.info(f"validation: {num_val} fixed batches of {VAL_BATCH} examples")
    elif args.val_batches > 0:
        rt.log.warning("no validation data (no held-out videos or folders): validation is skipped")
    description = {
        "ALOV300++": alov_root,
        "ImageNet DET": det_root,
        "split": f"validation holds the last {100 * args.val_fraction:g} % of each ALOV category's videos "
        "(at least one) and of the DET folders"
        + ("; the videos VOT shares with ALOV are left out" if args.exclude_vot_overlap else ""),
        **{
            f"{split}: {what}": len(table)
            for split in ("train", "val")
            for what, table in zip(("DET objects", "ALOV frame pairs"), tables[split])
        },
        "training examples per epoch": train_stream.batches_per_epoch * args.batch_size,
        "validation": f"{num_val} fixed batches of {VAL_BATCH} examples" if val_loader else "none",
    }
    return Data(loader, steps, val_loader, skipped, description)


def train_one_epoch(model, optimizer, lr_scheduler, batches, rt, args, run, meter):
    """The steps of epoch ``run.state.epoch`` that are left; returns why it stopped early (or
    None). After each step ``run.after_step()`` validates and saves when due."""
    model.train()
    state = run.state
    steps = StepRecorder(
        rt,
        meter,
        total=state.steps_per_epoch,
        print_freq=args.print_freq,
        desc=f"epoch {state.epoch + 1}/{args.epochs}",
        samples=args.batch_size * rt.world_size,
        rate_name="ex_per_s",
        lr_name="base_lr",
    )
    reason = None
    for batch in steps.timed(run.epoch_batches(batches)):
        target, search, target_index, label = to_device(batch, rt.device, args.channels_last)
        with rt.amp.autocast():
            prediction = model(target, search, target_index)
        loss = l1_sum(prediction, label)
        loss_value = rt.amp.checked_loss(loss, state.step + 1)
        optimizer.zero_grad(set_to_none=True)
        rt.amp.backward_and_step(loss, optimizer)
        lr_scheduler.step()
        synchronize(rt.device)
        state.took_step(loss_value)
        skipped = int(batch["skipped"])
        if args.skip_bad and rt.distributed:  # the job's count, the same on every rank and checkpoint
            (skipped,) = distributed.sum_ints(skipped)
        state.skipped += skipped
        steps.done(state.step, state.step_in_epoch, loss_value, base_lr(optimizer))
        reason = run.after_step()
        if reason:
            break
    steps.close()
    return reason


@torch.no_grad()
def target_jitter(args) -> MotionModel | None:
    """The demo's small moves of the previous box (``--target_jitter``; None: the original's
    exact previous box). Shift and scale errors are Laplace with that rate, the scale error at
    most 25 %."""
    if not args.target_jitter:
        return None
    return MotionModel(args.target_jitter, args.target_jitter, -0.25, 0.25)


def validate(model, val_loader, rt, step: int) -> dict[str, float]:
    """Loss on the fixed validation batches after ``step``, summed over ranks, logged and written
    to TensorBoard: ``loss`` is the summed L1 per 50 examples (the seed's val-loss),
    ``l1_per_coordinate`` the mean absolute error of one coordinate in crop units (0..10).
    (The tracking benchmark of a trained model is goturn.tracking.evaluate.)"""
    model.eval()
    total, no_motion, count = 0.0, 0.0, 0
    for batch in val_loader:
        target, search, target_index, label = to_device(batch, rt.device, True)
        with rt.amp.autocast():
            prediction = model(target, search, target_index)
        total += l1_sum(prediction, label).item()
        # For scale: the loss of answering "the object stayed" (the search crop's centred box).
        no_motion += l1_sum(NO_MOTION_UNITS.to(label.device).expand_as(label), label).item()
        count += len(label)
    # Gathered as Python numbers: any backend takes them (HCCL reduces no
    # float64), and they add up in rank order, the same on every rank.
    per_rank = distributed.all_gather_object((total, no_motion, count))
    total, no_motion, count = (sum(part[k] for part in per_rank) for k in range(3))
    model.train()
    if count == 0:
        return dict(NOT_VALIDATED)
    val = {
        "loss": total / count * VAL_BATCH,
        "l1_per_coordinate": total / (count * 4),
        "no_motion_loss": no_motion / count * VAL_BATCH,
    }
    rt.log.info(
        f"validation at step {step}: loss {val['loss']:.4f} (summed L1 per 50 examples), "
        f"{val['l1_per_coordinate']:.4f} per coordinate; no motion {val['no_motion_loss']:.4f}"
    )
    rt.tensorboard.add_scalar("val/loss", val["loss"], step)
    rt.tensorboard.add_scalar("val/l1_per_coordinate", val["l1_per_coordinate"], step)
    return val


def build_model(args, rt) -> GoturnNet:
    model = GoturnNet(args.network)
    pretrained = args.pretrained_model.strip()
    if pretrained.lower() == "auto":  # check_args made sure it is there
        pretrained = str(DEFAULT_CAFFENET)
    from_scratch = pretrained.lower() == "none"
    if not from_scratch:
        kind = load_pretrained(model, pretrained)
        rt.log.info(f"loaded {kind} weights from {pretrained}")
    freeze = args.freeze_convs if args.freeze_convs is not None else not from_scratch
    model.freeze_features(freeze)
    if freeze:
        rt.log.info("conv towers frozen (no gradients computed)")
    else:
        rt.log.info("conv towers trained" + (" from random init" if from_scratch else ""))
    model = model.to(rt.device)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


def main(args):
    check_args(args)  # also run by run_cli; main() is called directly by the tests
    rt = setup_runtime(args)
    data = load_data(args, rt)
    model = build_model(args, rt)
    fused = fused_update(rt.device, rt.amp.precision)
    optimizer, lr_scheduler = build_optimizer(model, args, len(data.loader.dataset), fused)
    model_ddp = rt.wrap_model(model)

    def validate_now():
        return validate(model_ddp, data.val_loader, rt, run.state.step)

    run = TrainingRun(
        rt,
        model,
        optimizer,
        lr_scheduler,
        steps_per_epoch=len(data.loader.dataset),
        epochs=args.epochs,
        max_steps=args.max_steps,
        save_every=args.save_every,
        validate=validate_now if data.val_loader else None,
        validate_every=args.val_every,
        val=NOT_VALIDATED,
        skipped_key="skipped_samples",
        model_info={"model": "GOTURN", "network": args.network},
    )
    # The step counter goes on in iterations (Caffe's schedule counts them whatever the batch).
    run.resume(args.resume, args.batch_size, validate_first=True)

    meter = ThroughputMeter(warmup_steps=5)
    start = time.perf_counter()
    with run.batches(data.loader, data.steps) as batches:
        while run.next_epoch():
            reason = train_one_epoch(model_ddp, optimizer, lr_scheduler, batches, rt, args, run, meter)
            run.end_epoch(reason)
    return finish(run, meter, args, data, time.perf_counter() - start)


def finish(run, meter, args, data, seconds: float) -> int:
    """The closing log line and result.json (the ModelZoo summary's figures)."""
    fps, global_batch, val = meter.samples_per_sec, args.batch_size * run.rt.world_size, run.state.val
    return run.finish(
        summary=f"done: {run.steps_done()} in {seconds:.0f}s, {fps:.1f} examples/s "
        f"({fps / global_batch:.3f} it/s), data wait {100 * meter.data_wait_fraction:.1f}% of step "
        f"time, val loss {val['loss']:.4f}",
        skipped_what="unreadable samples were replaced",
        network="GOTURN",
        batch_size=global_batch,
        fps=fps,
        fps_unit="examples/s",
        accuracy=val["loss"],
        accuracy_name=VAL_LOSS_NAME if data.val_loader is not None else NO_VALIDATION,
        extra={
            "it_per_s": fps / global_batch,
            "val_l1_per_coordinate": val["l1_per_coordinate"],
            "data_wait_fraction": meter.data_wait_fraction,
            "skipped_at_indexing": data.skipped_at_indexing,
        },
        data=data.description,
    )


def check_args(args) -> None:
    """What parsing cannot check: flags against each other (run before anything starts, and all
    that --check_args does with the output folder's checks)."""
    if args.min_scale > args.max_scale:
        raise UserError(f"--min_scale {args.min_scale} is above --max_scale {args.max_scale}")
    pretrained = args.pretrained_model.strip()
    if pretrained.lower() == "auto" and not DEFAULT_CAFFENET.is_file():
        # Random towers (trained, not frozen) are a different recipe: found out after days of
        # training, a silent fallback costs more than a refusal now.
        raise UserError(
            f"--pretrained_model auto: no CaffeNet weights at {DEFAULT_CAFFENET}; get "
            f"{DEFAULT_CAFFENET.name} from the goturn-pytorch repository "
            "(github.com/nrupatunga/goturn-pytorch, src/goturn/models/pretrained/) and put it there, "
            "pass --pretrained_model PATH, or train from scratch on purpose with --pretrained_model none"
        )
    if pretrained.lower() not in ("auto", "none") and not Path(pretrained).is_file():
        raise UserError(f"--pretrained_model {pretrained}: no such file")


def get_args_parser():
    parser = argparse.ArgumentParser(
        description="Train GOTURN on ALOV300++ and ImageNet DET.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    data = parser.add_argument_group("data")
    data.add_argument("--data_path", required=True, help="folder holding ALOV/ and ILSVRC2014_Det/")
    data.add_argument("--alov_path", default="", help="ALOV folder if not DATA_PATH/ALOV")
    data.add_argument("--imagenet_path", default="", help="DET folder if not DATA_PATH/ILSVRC2014_Det")
    data.add_argument(
        "--val_fraction",
        type=number(float, least=0, below=1),
        default=VAL_FRACTION,
        help="held out: this share of the ALOV videos of each category (at least 1) and of the DET folders",
    )
    add_bool_flag(
        data,
        "--exclude_vot_overlap",
        default=False,
        help="leave out the 7 ALOV videos that are also in VOT 2014",
    )
    gen = parser.add_argument_group("example generator")
    gen.add_argument(
        "--examples_per_pair",
        type=count,
        default=10,
        help="synthetic examples per pair (kGeneratedExamplesPerImage), plus 1 true example",
    )
    gen.add_argument("--lamda_shift", type=positive_float, default=5.0, help="Laplace rate of the shift")
    gen.add_argument(
        "--lamda_scale", type=positive_float, default=15.0, help="Laplace rate of the scale change"
    )
    gen.add_argument(
        "--min_scale", type=number(float, above=-1), default=-0.4, help="lower clip of the scale change"
    )
    gen.add_argument(
        "--max_scale", type=number(float, above=-1), default=0.4, help="upper clip of the scale change"
    )
    gen.add_argument(
        "--target_jitter",
        type=non_negative_float,
        default=0.0,
        help="training examples only: cut the target (and the true example's search crop) around "
        "the previous box moved by Laplace(rate) shifts and scale errors, as a tracker's drifting "
        "estimate is (0: the exact previous box, as the original; the demo uses 15)",
    )
    add_pixels_on_flag(gen, "--crops_on", "cutting the 227x227 crops")
    tracking = parser.add_argument_group(
        "tracking (not used in training: recorded in the checkpoint as the tracker's defaults "
        "for this model, see goturn/tracking/policy.py)"
    )
    tracking.add_argument(
        "--track_hold_below",
        type=probability,
        default=ORIGINAL_TRACKING.hold_below,
        help="the tracker keeps its last box while the lost-target score is below this (0: off, "
        "as the original; the demo uses 0.3)",
    )
    tracking.add_argument(
        "--track_template",
        choices=TEMPLATES,
        default=ORIGINAL_TRACKING.template,
        help="the template the tracker regresses against: previous (the original) or first (the demo's)",
    )
    tracking.add_argument(
        "--track_border",
        choices=BORDERS,
        default=ORIGINAL_TRACKING.border,
        help="clip: the tracker cuts a box at the image border (the original); keep: a cut side "
        "keeps its length beyond it (the demo's)",
    )
    tracking.add_argument(
        "--track_score",
        choices=SCORES,
        default=ORIGINAL_TRACKING.score,
        help="the lost-target score the tracker decides with (the demo's: colour)",
    )
    model = parser.add_argument_group("model")
    model.add_argument(
        "--network",
        choices=tuple(NETWORKS),
        default=DEFAULT_NETWORK,
        help="caffenet: the original; caffenet-tiny: the demo's, CaffeNet's layers at an eighth of "
        "the conv widths without LRN, built to train from scratch in CPU minutes",
    )
    model.add_argument(
        "--pretrained_model",
        default="auto",
        help="caffenet_weights.npy, a goturn-pytorch .ckpt or a checkpoint of this project; "
        "'auto': goturn/pretrained/caffenet_weights.npy (an error when it is missing); 'none': train "
        "from scratch",
    )
    add_auto_bool_flag(
        model, "--freeze_convs", help="freeze the conv towers (auto: when pretrained weights are loaded)"
    )
    add_auto_bool_flag(
        model,
        "--channels_last",
        help="channels-last memory layout for the convs (auto: on, "
        "except on Ascend NPUs, whose kernels use their own layouts)",
    )
    solver = parser.add_argument_group("solver (default: the Caffe original's SGD and step schedule)")
    solver.add_argument("--batch_size", type=positive_int, default=50, help="examples per device per step")
    solver.add_argument(
        "--optimizer",
        choices=OPTIMIZERS,
        default="caffe_sgd",
        help="caffe_sgd: Caffe's SGD with GOTURN's per-layer multipliers; adamw: AdamW, no multipliers "
        "(the demo's)",
    )
    solver.add_argument(
        "--lr",
        type=positive_float,
        default=1e-6,
        help="base learning rate (caffe_sgd: FC weights x10, biases x20)",
    )
    solver.add_argument(
        "--momentum", type=number(float, least=0, below=1), default=0.9, help="SGD momentum; AdamW's beta1"
    )
    solver.add_argument(
        "--wd",
        type=non_negative_float,
        default=5e-4,
        help="weight decay (caffe_sgd: FC weights only; adamw: all weights)",
    )
    solver.add_argument(
        "--lr_schedule",
        choices=LR_SCHEDULES,
        default="step",
        help="step: lr x gamma every --lr_step iterations (Caffe's); cosine: from lr to 0 over the run",
    )
    solver.add_argument("--lr_step", type=positive_int, default=100000, help="iterations between lr x gamma")
    solver.add_argument(
        "--gamma", type=positive_float, default=0.1, help="lr multiplier every --lr_step iterations"
    )
    solver.add_argument(
        "--warmup_steps", type=count, default=0, help="cosine schedule: linear warm-up over these steps"
    )
    solver.add_argument(
        "--epochs",
        type=positive_int,
        default=20,
        help="passes over the training stream (or --max_steps first)",
    )
    solver.add_argument(
        "--max_steps",
        type=count,
        default=450_000,
        help="stop after this many steps, the Caffe solver's max_iter (0: no limit)",
    )
    evaluation = parser.add_argument_group("validation")
    evaluation.add_argument(
        "--val_batches",
        type=count,
        default=100,
        help="fixed validation batches of 50 examples (0: no validation)",
    )
    evaluation.add_argument(
        "--val_every",
        type=count,
        default=0,
        help="also validate every N steps (0: at the start and after each epoch)",
    )
    add_runtime_args(parser)
    return parser


if __name__ == "__main__":
    raise SystemExit(run_cli(main, get_args_parser(), check=check_args))
