"""What a training checkpoint holds and how a resume reads it: the format number, the keys, the
model it was trained for, and the one-line messages that say why a checkpoint does not fit."""

from common.errors import UserError

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


def check_format(path: str, state: dict, known_keys, log) -> None:
    """Refuse a format this code does not know; say what is read differently or ignored."""
    written = state.get("format")
    if written is None:
        log.info(f"{path} has no format number (written before 0.2): read as format 1")
    elif not isinstance(written, int) or written > CHECKPOINT_FORMAT:
        raise UserError(
            f"checkpoint {path} is in format {written!r}, newer than this code reads (up to "
            f"{CHECKPOINT_FORMAT}): resume it with the version of the package that wrote it"
        )
    unknown = sorted(set(state) - set(STATE_KEYS) - set(known_keys))
    if unknown:
        log.warning(f"{path}: ignored what this run does not use: {', '.join(unknown)}")


def load_weights(path: str, state: dict, model, optimizer, expected: dict) -> None:
    """The model's and the optimizer's state (``expected``: what the run trains), refused in one
    line when the checkpoint holds another model, network or class count (naming what it holds
    and what the run expects)."""
    saved = model_info_of(state)
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
