"""The skeleton both train.py share: a run's counters, resume, periodic and final checkpoints,
validation between epochs, the stop decision and the summary. The loop itself stays visible in
each model's train.py:

    run = TrainingRun(rt, model, optimizer, lr_scheduler, steps_per_epoch=..., epochs=..., ...)
    run.resume(args.resume, args.batch_size)
    while run.next_epoch():
        reason = train_one_epoch(..., run)    # calls run.after_step() after every step
        run.end_epoch(reason)
    return run.finish(summary=..., **result)
"""

import itertools
import math
from contextlib import contextmanager
from dataclasses import dataclass, field

from common.checkpoint import LATEST
from common.model_card import write_training_card
from common.prefetch import BackgroundIterator
from common.summary import RESULT_FILE, write_result


@dataclass
class TrainingState:
    """Where a run is; all of it goes into the checkpoint. ``step`` counts the steps taken
    since the run began; ``step_in_epoch`` those of the current epoch."""

    steps_per_epoch: int
    epoch: int = 0
    step: int = 0
    step_in_epoch: int = 0
    last_loss: float = math.nan
    skipped: int = 0  # unreadable samples replaced or skipped (--skip_bad), over all processes
    val: dict = field(default_factory=dict)

    def took_step(self, loss: float | None) -> None:
        self.step += 1
        self.step_in_epoch += 1
        if loss is not None:
            self.last_loss = loss


class TrainingRun:
    """``validate()`` returns the validation figures (a dict) or is None for a run without
    validation; it runs before the first step with ``validate_first`` (not after a resume),
    every ``validate_every`` steps, and after every epoch unless this step was just validated.
    ``skipped_key`` names the skip counter in the checkpoint; ``extras`` go into every
    checkpoint as they are.

    ``model_info``: what the run trains, e.g. ``{"model": "GloRe", "network": "resnet50",
    "classes": 101}`` (common.run_checkpoints).

    ``counts_steps``: what the step counter (``state.step``: loss.txt, ``--max_steps``, the lr
    schedule) counts when a run resumes with another global batch. "iterations" (GOTURN: the
    Caffe schedule's iterations, whatever their batch) goes on from the checkpoint's count;
    "batches" (GloRe: a schedule in epochs) counts again in this run's batches, as if the whole
    run had used them."""

    def __init__(
        self,
        rt,
        model,
        optimizer,
        lr_scheduler,
        *,
        steps_per_epoch: int,
        epochs: int,
        max_steps: int,
        save_every: int,
        validate,
        val: dict,
        skipped_key: str,
        validate_every: int = 0,
        extras: dict | None = None,
        counts_steps: str = "iterations",
        model_info: dict | None = None,
    ):
        self.rt, self.model, self.optimizer, self.lr_scheduler = rt, model, optimizer, lr_scheduler
        self.state = TrainingState(steps_per_epoch, val=dict(val))
        self.epochs, self.max_steps, self.save_every = epochs, max_steps, save_every
        self._validate, self.validate_every = validate, validate_every
        self.skipped_key, self.extras = skipped_key, extras or {}
        if counts_steps not in ("iterations", "batches"):
            raise ValueError(f"counts_steps must be 'iterations' or 'batches', got {counts_steps!r}")
        self.counts_steps = counts_steps
        # What this run trains ({"model": "GloRe", "network": ..., "classes": ...}): written into
        # every checkpoint, and a checkpoint of another model is refused on resume naming both.
        rt.checkpoints.model_info = dict(model_info or {})
        self.reason: str | None = None  # why the loop ended early: "signal", "max_steps"
        self.first_step = 0  # the step this process started from (the checkpoint's, on resume)
        self._validated_at: int | None = None

    def resume(self, resume: str | None, batch_size: int, validate_first: bool = False) -> dict | None:
        """Continue from ``--resume`` (a path, ``auto`` or nothing) where that run stopped; returns
        the checkpoint, or None for a fresh start (then validates first if asked)."""
        path = self.rt.checkpoints.resume_path(resume)
        if not path:
            if resume == "auto":
                where = self.rt.output_dir
                self.rt.log.warning(f"--resume auto: no checkpoint in {where} yet; starting afresh")
            # loss.txt holds this run's steps only: lines left by an attempt that was killed
            # before its first checkpoint (--resume auto found none) are redone.
            self.rt.losses.drop_after(0)
            if validate_first:
                self.validate()
            return None
        known = ("epoch", "step", "step_in_epoch", "last_loss", "val", self.skipped_key, *self.extras)
        saved = self.rt.checkpoints.restore(path, self.model, self.optimizer, self.lr_scheduler, known)
        state = self.state
        state.epoch, state.step = saved["epoch"], saved["step"]
        state.step_in_epoch = self._step_in_epoch(saved, batch_size)
        state.last_loss = saved.get("last_loss", math.nan)
        state.skipped = saved.get(self.skipped_key, 0)
        state.val = saved.get("val", state.val)
        self.first_step = state.step
        self._say_if_nothing_is_left()
        return saved

    def _say_if_nothing_is_left(self) -> None:
        """A resumed run that has nothing left to do says so, rather than "done" alone."""
        if self.next_epoch():
            return
        state = self.state
        if self.reason == "max_steps":
            why = f"it is at step {state.step} and --max_steps is {self.max_steps}"
        else:
            why = f"it is at step {state.step}, the end of epoch {self.epochs}; raise --epochs to go on"
        self.rt.log.warning(f"nothing left to train: {why}")

    def _step_in_epoch(self, saved: dict, batch_size: int) -> int:
        """The step of the epoch to resume from, in this run's steps. A checkpoint of a run with
        another global batch (processes x per-process batch) counts its steps in that run's
        units. A step takes the next global batch of the epoch's order (rank r its r-th share),
        so the data consumed is a prefix of the epoch; it becomes this run's steps rounded down:
        up to one global batch is seen again, nothing is skipped. The step counter follows
        ``counts_steps``; the log says what became of both."""
        world_size, state = self.rt.world_size, self.state
        saved_batch = int(saved.get("args", {}).get("batch_size", batch_size)) * int(
            saved.get("world_size", world_size)
        )
        step, batch = saved["step_in_epoch"], batch_size * world_size
        if saved_batch == batch:
            return step
        converted = step * saved_batch // batch
        if self.counts_steps == "batches":
            state.step = state.epoch * state.steps_per_epoch + converted
            counter = (
                f"the run's step counter is counted in this run's batches: its step {saved['step']} "
                f"is this run's step {state.step} (loss.txt, --max_steps and the lr schedule follow)"
            )
        else:
            counter = (
                f"the run's step counter goes on from {state.step} (it counts iterations whatever "
                "their batch: loss.txt, --max_steps and the lr schedule)"
            )
        again = " (part of a batch is seen again)" if converted * batch != step * saved_batch else ""
        self.rt.log.warning(
            f"the checkpoint's run took {saved_batch} examples per step, this one {batch}: epoch "
            f"{state.epoch + 1} goes on after its first {step * saved_batch} examples, from this "
            f"run's step {converted + 1} of {state.steps_per_epoch}{again}; {counter}"
        )
        return converted

    def next_epoch(self) -> bool:
        """Whether there are steps left to run; passes over an epoch already finished."""
        state = self.state
        if self.reason is None and self.max_steps and state.step >= self.max_steps:
            self.reason = "max_steps"  # resumed from a checkpoint already at --max_steps
        while (
            self.reason is None and state.epoch < self.epochs and state.step_in_epoch >= state.steps_per_epoch
        ):
            state.epoch, state.step_in_epoch = state.epoch + 1, 0
        return self.reason is None and state.epoch < self.epochs

    @contextmanager
    def batches(self, loader, steps):
        """The run's remaining batches, taken off ``loader`` in a background thread (nothing is
        started when no step is left); ``steps`` is the loader's ``common.loader.RunSteps``."""
        if not self.next_epoch():
            yield iter(())
            return
        if self.rt.is_main:  # an earlier finish's result must not be taken for this run's
            (self.rt.output_dir / RESULT_FILE).unlink(missing_ok=True)
        steps.start_at(self.state.epoch, self.state.step_in_epoch)
        with BackgroundIterator(loader) as batches:
            yield batches

    def epoch_batches(self, batches):
        """The batches of the current epoch that are left, from the run's ``batches``."""
        return itertools.islice(batches, self.state.steps_per_epoch - self.state.step_in_epoch)

    def after_step(self) -> str | None:
        """Periodic validation and checkpoints; returns why to stop now, or None."""
        step = self.state.step
        if self.validate_every and step % self.validate_every == 0:
            self.validate()
        if self.save_every and step % self.save_every == 0:
            self.save()
        return self.rt.stop.reason(step, self.max_steps)

    def end_epoch(self, reason: str | None) -> None:
        """After the epoch's steps (all, or up to ``reason``): validate and save."""
        self.reason = reason
        if reason is None:
            self.state.epoch, self.state.step_in_epoch = self.state.epoch + 1, 0
        if reason != "signal" and self._validated_at != self.state.step:
            self.validate()
        self.save()

    def validate(self) -> None:
        if self._validate is not None:
            self.state.val = self._validate()
            self._validated_at = self.state.step

    def save(self) -> None:
        state = self.state
        counters = {
            "epoch": state.epoch,
            "step": state.step,
            "step_in_epoch": state.step_in_epoch,
            "last_loss": state.last_loss,
            "val": state.val,
            self.skipped_key: state.skipped,
            **self.extras,
        }
        checkpoints = self.rt.checkpoints
        checkpoints.save(
            checkpoints.training_state(self.model, self.optimizer, self.lr_scheduler, **counters)
        )

    @property
    def steps_taken(self) -> int:
        """Steps this process trained (a resumed run's counter began at the checkpoint's)."""
        return self.state.step - self.first_step

    def steps_done(self) -> str:
        """ "5 steps" or, after a resume, "5 steps (the run is at step 15)", for the closing line."""
        taken, step = self.steps_taken, self.state.step
        return f"{taken} steps" + (f" (the run is at step {step})" if step != taken else "")

    def finish(self, *, summary: str, skipped_what: str, extra: dict, data: dict, **result) -> int:
        """A run stopped by a signal says how to resume; a finished one logs ``summary`` and
        writes result.json (``result``: common.summary.write_result's figures) and MODEL_CARD.md
        beside the checkpoint (``data``: what the run trained and validated on). A resumed run
        that trained nothing keeps the result.json its end wrote (this process measured no
        throughput)."""
        rt, state = self.rt, self.state
        if self.reason == "signal":
            rt.log.warning(rt.resume_hint())
            rt.finish()
            return 0
        rt.log.info(summary)
        if self.steps_taken == 0 and (rt.output_dir / RESULT_FILE).is_file():
            rt.log.info(f"no step was trained: {rt.output_dir / RESULT_FILE} of the run's end is kept")
            rt.finish()
            return 0
        if self.steps_taken == 0:
            result["fps"] = math.nan  # not measured: null in result.json, nan in the summary
        if state.skipped:
            rt.log.warning(f"{state.skipped} {skipped_what} (--skip_bad)")
        if rt.amp.skipped_steps:
            rt.log.warning(f"{rt.amp.skipped_steps} steps skipped by the fp16 GradScaler (gradient overflow)")
        extra = {**extra, "steps": state.step, self.skipped_key: state.skipped}
        extra["fp16_skipped_steps"] = rt.amp.skipped_steps
        write_result(
            rt.output_dir,
            rank_size=rt.world_size,
            loss=state.last_loss,
            extra=extra,
            is_main=rt.is_main,
            **result,
        )
        checkpoint = rt.output_dir / LATEST
        if rt.is_main and checkpoint.is_file():
            rt.log.info(f"model card: {write_training_card(rt.output_dir, checkpoint, data)}")
        rt.finish()
        return 0
