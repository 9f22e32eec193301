"""A training run's checkpoints: what an exact resume needs, written on rank 0, read back on
every process from a file they all agree on."""

from common import distributed
from common.checkpoint import LATEST, load_checkpoint, resolve_resume, save_checkpoint
from common.cli import plain_args
from common.errors import UserError
from common.seeding import rng_state, set_rng_state

# How the update is computed is this run's choice, made for its device and precision
# (goturn.optim.fused_update); load_state_dict would restore the saving run's.
UPDATE_IMPLEMENTATION_KEYS = ("fused", "foreach")
# The layout of a training checkpoint; a reader refuses a newer one instead of misreading it.
# Checkpoints written before the number was (0.1.x) are read as format 1.
CHECKPOINT_FORMAT = 1
# What training_state writes besides the run's counters and extras.
STATE_KEYS = (
    "format",
    "model_info",
    "model",
    "optimizer",
    "lr_scheduler",
    "scaler",
    "world_size",
    "fp16_skipped_steps",
    "rng",
    "args",
)


def position(step: int, epoch: int, step_in_epoch: int) -> str:
    """Where a checkpoint is, counted as the progress lines count (epochs from 1)."""
    if step_in_epoch == 0 and epoch > 0:
        return f"step {step}, after epoch {epoch}"
    return f"step {step}, epoch {epoch + 1} after its step {step_in_epoch}"


def describe_model(info: dict) -> str:
    """``{"model": "GloRe", "network": "resnet50", "classes": 101}`` in words."""
    words = [info.get("model", "unknown")]
    if info.get("network"):
        words.append(info["network"])
    text = " ".join(words) + " model"
    if info.get("classes") is not None:
        text += f" with {info['classes']} classes"
    return text


def model_info_of(state: dict) -> dict:
    """What model a checkpoint holds: its ``model_info``, or for one written before it was kept,
    what its training flags tell (GloRe runs have --network and --clip_len, GOTURN's do not)."""
    if isinstance(state.get("model_info"), dict):
        return state["model_info"]
    args = state.get("args") or {}
    if "clip_len" in args:
        return {
            "model": "GloRe",
            "network": args.get("network"),
            "classes": len(state.get("class_names") or []) or None,
        }
    if "lamda_shift" in args:
        return {"model": "GOTURN"}
    return {}


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
        self._check_format(path, state, known_keys)
        self._load_weights(path, state, model, optimizer)
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

    def _check_format(self, path: str, state: dict, known_keys) -> None:
        """Refuse a format this code does not know; say what is read differently or ignored."""
        written = state.get("format")
        if written is None:
            self.rt.log.info(f"{path} has no format number (written before 0.2): read as format 1")
        elif not isinstance(written, int) or written > CHECKPOINT_FORMAT:
            raise UserError(
                f"checkpoint {path} is in format {written!r}, newer than this code reads (up to "
                f"{CHECKPOINT_FORMAT}): resume it with the version of the package that wrote it"
            )
        unknown = sorted(set(state) - set(STATE_KEYS) - set(known_keys))
        if unknown:
            self.rt.log.warning(f"{path}: ignored what this run does not use: {', '.join(unknown)}")

    def _load_weights(self, path: str, state: dict, model, optimizer) -> None:
        """The model's and the optimizer's state, refused in one line when the checkpoint holds
        another model, network or class count (naming what it holds and what the run expects)."""
        saved, expected = model_info_of(state), self.model_info
        differs = [key for key in ("model", "network", "classes") if saved.get(key) != expected.get(key)]
        advice = "resume from a checkpoint of this model, or start afresh (--fresh, or another --output_dir)"
        if saved and expected and any(saved.get(key) is not None for key in differs):
            raise UserError(
                f"checkpoint {path} holds a {describe_model(saved)}; this run trains a "
                f"{describe_model(expected)}: {advice}"
            )
        try:
            model.load_state_dict(state["model"])
            load_optimizer_state(optimizer, state["optimizer"])
        except (RuntimeError, ValueError, KeyError) as error:
            holds = f"a {describe_model(saved)}" if saved else "weights of another model"
            runs = describe_model(expected) if expected else "model"
            why = mismatch(error, model, state["model"])
            raise UserError(
                f"checkpoint {path} holds {holds} that do not fit this run's {runs} ({why}): {advice}"
            ) from None


def mismatch(error: Exception, model, weights) -> str:
    """load_state_dict's error in a few words: how many tensors are missing, unexpected or of
    another shape, with one example (its own message runs to a hundred lines)."""
    if not isinstance(weights, dict):
        return f"its 'model' is a {type(weights).__name__}"
    own = model.state_dict()
    missing = [key for key in own if key not in weights]
    unexpected = [key for key in weights if key not in own]
    reshaped = [
        key
        for key in own
        if key in weights and getattr(weights[key], "shape", None) not in (None, own[key].shape)
    ]
    parts = [
        f"{len(keys)} tensors {what}, e.g. {keys[0]}"
        for what, keys in (("missing", missing), ("unexpected", unexpected))
        if keys
    ]
    if reshaped:
        key = reshaped[0]
        parts.append(
            f"{len(reshaped)} of another shape, e.g. {key} {tuple(weights[key].shape)} instead of "
            f"{tuple(own[key].shape)}"
        )
    return "; ".join(parts) or str(error).splitlines()[0]


def load_optimizer_state(optimizer, saved: dict) -> None:
    """``optimizer.load_state_dict(saved)``, keeping the optimizer's own update implementation:
    a checkpoint from a CUDA run (fused SGD) resumed on an NPU or under fp16 must not switch the
    fused kernel back on."""
    chosen = [{key: group.get(key) for key in UPDATE_IMPLEMENTATION_KEYS} for group in optimizer.param_groups]
    optimizer.load_state_dict(saved)
    for group, implementation in zip(optimizer.param_groups, chosen):
        group.update(implementation)
