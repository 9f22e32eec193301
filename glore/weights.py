"""Loaders for foreign GloRe weights: released Kinetics-400 checkpoints and 2D ImageNet ResNet-lite.

Both return a `LoadReport`; every mismatch other than the documented ones raises `WeightsError`
naming the key and the shapes.
"""

import os
from dataclasses import dataclass, field

import torch
from torch import nn

from common.checkpoint import load_checkpoint
from common.errors import UserError

CLASSIFIER_PREFIX = "classifier."
# Bookkeeping buffers that old checkpoints (torch < 0.4.1) do not have; not weights.
OPTIONAL_SUFFIX = ".num_batches_tracked"


class WeightsError(UserError):
    """A weights file does not fit the network; the message names the file and the key."""


@dataclass
class LoadReport:
    loaded: list[str] = field(default_factory=list)  # keys copied from the file
    skipped: list[str] = field(default_factory=list)  # keys in the file that were not used (wrong-size head)
    kept_init: list[str] = field(default_factory=list)  # network keys left at their initial values
    # keys of a 2D file the 3D network has no place for (a classifier named fc.*): ignored
    unused: list[str] = field(default_factory=list)

    def loaded_parameters(self, model: nn.Module) -> set[str]:
        return {name for name, _ in model.named_parameters() if name in set(self.loaded)}

    def summary(self, source) -> str:
        """One log line: what was loaded from `source`, and what was not."""
        return (
            f"loaded {len(self.loaded)} tensors from {source}"
            + (f"; skipped {self.skipped} (another class count)" if self.skipped else "")
            + (f"; ignored {self.unused} (no such key in the 3D network)" if self.unused else "")
            + (f"; {len(self.kept_init)} keep their initial values" if self.kept_init else "")
        )


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The tensors of a weights file, with DataParallel/DDP's `module.` prefix removed.

    Accepts the released layout `{'epoch', 'state_dict'[, 'optimizer']}`, our own checkpoints
    (`{'model': ...}`) and a bare state dict.
    """
    obj = load_checkpoint(path)
    for key in ("state_dict", "model"):
        if isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    state = {}
    for key, value in obj.items():
        if not isinstance(value, torch.Tensor):
            raise WeightsError(f"{path}: entry {key!r} is a {type(value).__name__}, expected a tensor")
        state[key.removeprefix("module.")] = value
    return state


def _is_head(key: str) -> bool:
    return key.startswith(CLASSIFIER_PREFIX)


def load_glore_weights(
    model: nn.Module, state: dict[str, torch.Tensor], source: str = "state dict"
) -> LoadReport:
    """Copy a 3D GloRe state dict (e.g. Kinetics-400) into `model`.

    A classifier with another class count is skipped (the new head keeps its init). Everything
    else must match exactly; blocker gammas are loaded like any other weight.
    """
    target = model.state_dict()
    report = LoadReport()
    to_load = {}
    for key, value in state.items():
        if key not in target:
            raise WeightsError(f"{source}: key {key!r} does not exist in the network {_describe(model)}")
        if value.shape != target[key].shape:
            if _is_head(key):
                report.skipped.append(key)
                continue
            raise WeightsError(
                f"{source}: key {key!r} has shape {tuple(value.shape)}, "
                f"the network expects {tuple(target[key].shape)}"
            )
        to_load[key] = value
    _check_missing(target, to_load, source, allowed=_is_head)
    model.load_state_dict(to_load, strict=False)
    report.loaded = list(to_load)
    report.kept_init = [k for k in target if k not in to_load]
    return report


def inflate_2d_weights(
    model: nn.Module, state: dict[str, torch.Tensor], source: str = "state dict"
) -> LoadReport:
    """Initialise `model` from a 2D ResNet-lite (ImageNet): a 2D kernel k x k becomes a 3D kernel
    t x k x k by repeating it t times and dividing by t (so a static clip gives the 2D response).

    GloRe units and the classifier may be absent from the file (they keep their init); a
    classifier of another class count is skipped, and keys the 3D network has no place for are
    ignored (listed in `LoadReport.unused`), as the reference's inflation does. A network key
    the file lacks is still an error.
    """
    target = model.state_dict()
    report = LoadReport()
    to_load = {}
    for key, value in state.items():
        if key not in target:
            # An ImageNet file holds more than the 3D network uses (its classifier, as fc.*).
            report.unused.append(key)
            continue
        want = target[key].shape
        if value.dim() == 4 and len(want) == 5 and tuple(value.shape) == (want[0], want[1], want[3], want[4]):
            value = value.unsqueeze(2).repeat(1, 1, want[2], 1, 1) / want[2]
        if value.shape != want:
            if _is_head(key):
                report.skipped.append(key)
                continue
            raise WeightsError(
                f"{source}: key {key!r} has shape {tuple(value.shape)}, "
                f"which cannot be inflated to {tuple(want)}"
            )
        to_load[key] = value.to(target[key].dtype)
    _check_missing(target, to_load, source, allowed=lambda k: _is_head(k) or "_extra." in k)
    model.load_state_dict(to_load, strict=False)
    report.loaded = list(to_load)
    report.kept_init = [k for k in target if k not in to_load]
    return report


def load_pretrained(model: nn.Module, path: str | os.PathLike) -> LoadReport:
    """Load `path` into `model`: inflate it when it holds 2D kernels, else load it as a 3D GloRe net."""
    state = read_state_dict(path)
    stem = state.get("conv1.conv.weight")
    if stem is not None and stem.dim() == 4:
        return inflate_2d_weights(model, state, source=str(path))
    return load_glore_weights(model, state, source=str(path))


def _check_missing(target, to_load, source, allowed) -> None:
    missing = [k for k in target if k not in to_load and not k.endswith(OPTIONAL_SUFFIX) and not allowed(k)]
    if missing:
        shown = ", ".join(repr(k) for k in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise WeightsError(f"{source}: missing key {shown}{more} that the network needs")


def _describe(model: nn.Module) -> str:
    return repr(getattr(model, "network", type(model).__name__))
