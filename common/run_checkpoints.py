"""A training run's checkpoints: what an exact resume needs, written on rank 0, read back on
every process from a file they all agree on."""

from common import distributed
from common.checkpoint import LATEST, load_checkpoint, resolve_resume, save_checkpoint
from common.checkpoint_contents import CHECKPOINT_FORMAT, check_format, load_weights, position
from common.cli import plain_args
from common.errors import UserError
from common.seeding import rng_state, set_rng_state


class RunCheckpoints:
    """``rt``: the run's Runtime (ranks, output folder, precision, log, loss file)."""

    def __init__(self, rt):
        self.rt = rt
        self.last: str | None = None
        self.model_info: dict = {}  # what this run trains (common.training_run), kept in every checkpoint

    def where_to_resume(self) -> str:
        if self.last:
            return f"resume from the last good checkpoint {self.last}"
        return "no checkpoint was written yet"

    def training_state(self, model, optimizer, lr_scheduler, **counters) -> dict:
        """Everything an exact resume needs; ``model`` is the unwrapped model (no DDP
        ``module.`` prefix). Every rank's random streams are kept, so dropout and the like
        continue as if the run had never stopped. Collective: call it on every rank."""
        rt = self.rt
        return {
            "format": CHECKPOINT_FORMAT,
            "model_info": self.model_info,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "lr_scheduler": lr_scheduler.state_dict() if lr_scheduler is not None else None,
            "scaler": rt.amp.scaler.state_dict(),
            "world_size": rt.world_size,
            "fp16_skipped_steps": rt.amp.skipped_steps,
            "rng": distributed.all_gather_object(rng_state()),
            "args": plain_args(rt.args),
            **counters,
        }

    def save(self, state: dict, name: str = LATEST) -> None:
        """Write a checkpoint on rank 0 (atomically); the other ranks wait."""
        path = self.rt.output_dir / name
        if self.rt.is_main:
            save_checkpoint(state, path)
            self.rt.log.info(f"checkpoint saved: {path} (step {state.get('step', '?')})")
        self.last = str(path)
        distributed.barrier()

    def resume_path(self, resume: str | None) -> str | None:
        """The checkpoint to resume from (``--resume``: a path, ``auto`` or nothing), agreed by
        every process: each looks on its own disk, and they must find the same file. Otherwise
        (several nodes whose output folders are not shared) a node without the file would start
        afresh beside a resumed rank 0: the job diverges, then hangs in a mismatched collective."""
        try:
            mine = (resolve_resume(resume, self.rt.output_dir), None)
        except UserError as error:
            mine = (None, str(error))
        found = distributed.all_gather_object(mine)
        errors = [(rank, error) for rank, (_, error) in enumerate(found) if error]
        if errors:
            rank, error = errors[0]
            raise UserError(error if self.rt.world_size == 1 else f"process {rank}: {error}")
        paths = [path for path, _ in found]
        if len(set(paths)) > 1:
            differing = ", ".join(f"process {rank}: {path or 'none'}" for rank, path in enumerate(paths))
            raise UserError(
                f"the processes find different checkpoints to resume from ({differing}): runs "
                "over several nodes resume from a file every node sees (put --output_dir on "
                "a shared file system, or copy the checkpoint to the same path on every node)"
            )
        return paths[0]

    def restore(self, path: str, model, optimizer, lr_scheduler, known_keys=()) -> dict:
        """Load a checkpoint written from ``training_state`` into the given objects; returns it
        for the caller's counters and extras (``known_keys``: their names; any other key is
        ignored, and the log says so)."""
        rt = self.rt
        state = load_checkpoint(path, map_location="cpu")
        missing = [k for k in ("model", "optimizer", "epoch", "step", "step_in_epoch") if k not in state]
        if missing:
            raise UserError(
                f"checkpoint {path} cannot be resumed from: it lacks {', '.join(missing)} "
                "(a weights-only file? load it with --pretrained instead)"
            )
        check_format(path, state, known_keys, rt.log)
        load_weights(path, state, model, optimizer, self.model_info)
        if lr_scheduler is not None and state.get("lr_scheduler") is not None:
            lr_scheduler.load_state_dict(state["lr_scheduler"])
        if state.get("scaler"):
            rt.amp.scaler.load_state_dict(state["scaler"])
        rt.amp.skipped_steps = state.get("fp16_skipped_steps", 0)
        saved_rng = state.get("rng") or []
        if state.get("world_size") == rt.world_size and len(saved_rng) == rt.world_size:
            set_rng_state(saved_rng[rt.rank])
        else:
            rt.log.warning(
                f"{path} was written by {state.get('world_size')} process(es), this run "
                f"has {rt.world_size}: random streams restart from the seed"
            )
        self.last = str(path)
        rt.losses.drop_after(state["step"])
        rt.log.info(f"resumed from {path}: {position(state['step'], state['epoch'], state['step_in_epoch'])}")
        return state
