"""Loaders of GOTURN weights from the formats users hold.

Each loader returns a state dict in this project's key names (model.py) or
raises ``WeightsError`` naming the file and the first key that is missing,
unexpected or of the wrong shape:

- ``caffenet_weights.npy``: the pickled Python-2 dict the reference ships,
  ``{'conv1': [W, b], ..., 'conv5': [W, b], 'fc6': ...}`` with Caffe's OIHW
  weights. The conv weights go into both towers; other keys are ignored.
- a checkpoint of the PyTorch reference (nrupatunga/goturn-pytorch, a
  Lightning ``.ckpt``): ``{'state_dict': {...}}`` with the keys of its
  ``GoturnTrain`` module, mapped as ``REFERENCE_KEY_MAP`` shows::

      _model._net_1.{0,4,8,10,12}.*  -> target_features.conv{1..5}.*
      _model._net_2.{0,4,8,10,12}.*  -> search_features.conv{1..5}.*
      _model._classifier.{0,3,6,9}.* -> regressor.{fc6,fc7,fc7b,fc8}.*

  (``_net_1`` takes the previous frame's crop: the reference calls
  ``self._model(prev, curr)``). A bare reference ``state_dict`` without the
  ``_model.`` prefix, or saved from DDP (``module.``), is accepted too.
- this project's checkpoints: ``{'model': state_dict, ...}`` as train.py
  writes them, or a bare state dict, of either network (``caffenet`` or the
  demo's ``caffenet-tiny``; ``network_of`` tells them apart by their shapes).

``load_pretrained`` tells them apart by content, not by file name;
``load_network`` also builds the network the file was made for.
"""

import argparse
import pickle
import re
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from common.errors import UserError
from goturn.model import CONV_NAMES, DEFAULT_NETWORK, FC_NAMES, NETWORKS, GoturnNet

# Caffe OIHW shapes of CaffeNet's conv layers (groups=2 halves the input channels).
CAFFENET_SHAPES = {
    "conv1": ((96, 3, 11, 11), (96,)),
    "conv2": ((256, 48, 5, 5), (256,)),
    "conv3": ((384, 256, 3, 3), (384,)),
    "conv4": ((384, 192, 3, 3), (384,)),
    "conv5": ((256, 192, 3, 3), (256,)),
}
_REFERENCE_CONV_INDEX = dict(zip(CONV_NAMES, (0, 4, 8, 10, 12)))
_REFERENCE_FC_INDEX = dict(zip(FC_NAMES, (0, 3, 6, 9)))


def _reference_key_map() -> dict[str, str]:
    mapping = {}
    for tower, ours in (("_net_1", "target_features"), ("_net_2", "search_features")):
        for name, index in _REFERENCE_CONV_INDEX.items():
            for kind in ("weight", "bias"):
                mapping[f"{tower}.{index}.{kind}"] = f"{ours}.{name}.{kind}"
    for name, index in _REFERENCE_FC_INDEX.items():
        for kind in ("weight", "bias"):
            mapping[f"_classifier.{index}.{kind}"] = f"regressor.{name}.{kind}"
    return mapping


REFERENCE_KEY_MAP = _reference_key_map()


class WeightsError(UserError):
    """A weights file that cannot be loaded into GOTURN; names the file and key."""


_SHAPES: dict[str, dict[str, tuple[int, ...]]] = {}


def expected_shapes(network: str = DEFAULT_NETWORK) -> dict[str, tuple[int, ...]]:
    """Key -> shape of the state dict of GoturnNet(``network``) (built once per network)."""
    if network not in _SHAPES:
        with torch.device("meta"):
            _SHAPES[network] = {
                key: tuple(value.shape) for key, value in GoturnNet(network).state_dict().items()
            }
    return _SHAPES[network]


def network_of(state: dict) -> str:
    """The network (``goturn.model.NETWORKS``) whose first conv and first FC layer have the
    shapes found in ``state``, a state dict in this project's key names; the default network
    when none fits (checking the state dict against it then names the wrong key)."""
    probes = ("target_features.conv1.weight", "regressor.fc6.weight")
    for network in NETWORKS:
        shapes = expected_shapes(network)
        if all(tuple(getattr(state.get(key), "shape", ())) == shapes[key] for key in probes):
            return network
    return DEFAULT_NETWORK


def check_state_dict(
    state: dict, path, partial: bool = False, network: str = DEFAULT_NETWORK
) -> dict[str, torch.Tensor]:
    """Validate keys and shapes against GoturnNet(``network``); ``partial`` allows a
    subset of the keys. Returns float32 tensors."""
    shapes = expected_shapes(network)
    for key, value in state.items():
        if key not in shapes:
            raise WeightsError(
                f"{path}: unexpected key {key!r} (not a GOTURN parameter; expected keys "
                f"like 'target_features.conv1.weight' or 'regressor.fc6.weight')"
            )
        if not isinstance(value, torch.Tensor | np.ndarray):
            raise WeightsError(f"{path}: key {key!r} holds a {type(value).__name__}, expected an array")
        if tuple(value.shape) != shapes[key]:
            raise WeightsError(
                f"{path}: key {key!r} has shape {tuple(value.shape)}, expected {shapes[key]} ({network})"
            )
    if not partial:
        missing = [key for key in shapes if key not in state]
        if missing:
            raise WeightsError(f"{path}: missing key {missing[0]!r} ({len(missing)} missing in all)")
    return {key: torch.as_tensor(value).to(torch.float32) for key, value in state.items()}


def load_caffenet_npy(path) -> dict[str, torch.Tensor]:
    """CaffeNet conv weights for both towers, as a partial state dict."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: no such file (expected caffenet_weights.npy, see README)")
    try:
        weights = np.load(path, allow_pickle=True, encoding="latin1")
    except (OSError, ValueError, pickle.UnpicklingError, EOFError) as error:
        raise WeightsError(f"{path}: not a pickled CaffeNet weights .npy ({error})") from None
    if isinstance(weights, np.ndarray) and weights.shape == () and weights.dtype == object:
        weights = weights.item()
    if not isinstance(weights, dict):
        held = (
            f"an array of shape {weights.shape}"
            if isinstance(weights, np.ndarray)
            else type(weights).__name__
        )
        raise WeightsError(f"{path}: holds {held}, expected a dict of 'conv1'..'conv5' -> [weight, bias]")
    state = {}
    for name, (weight_shape, bias_shape) in CAFFENET_SHAPES.items():
        if name not in weights:
            raise WeightsError(f"{path}: missing key {name!r} (expected 'conv1'..'conv5' -> [weight, bias])")
        entry = weights[name]
        if not isinstance(entry, list | tuple) or len(entry) < 2:
            raise WeightsError(f"{path}: key {name!r} should be [weight, bias]")
        for kind, value, shape in (("weight", entry[0], weight_shape), ("bias", entry[1], bias_shape)):
            value = np.asarray(value)
            if value.shape != shape:
                raise WeightsError(f"{path}: key {name!r} {kind} has shape {value.shape}, expected {shape}")
            for tower in ("target_features", "search_features"):
                state[f"{tower}.{name}.{kind}"] = torch.from_numpy(value.astype(np.float32))
    return state


_UNKNOWN_GLOBAL = re.compile(r"GLOBAL (\S+) was not an allowed global")


def _torch_load(path: Path) -> dict:
    """``torch.load(weights_only=True)``: nothing in the file is executed.

    Training frameworks also pickle their own objects (Lightning's
    hyper-parameters and callback states); each such class is read as a plain
    OrderedDict instead, found one by one from the loader's refusals. Only the
    tensors are used."""
    if not path.is_file():
        raise WeightsError(f"{path}: no such file")
    stand_ins = [argparse.Namespace]
    for _ in range(64):
        try:
            with torch.serialization.safe_globals(stand_ins):
                state = torch.load(path, map_location="cpu", weights_only=True)
            break
        except Exception as error:
            unknown = _UNKNOWN_GLOBAL.search(str(error))
            if unknown and (OrderedDict, unknown.group(1)) not in stand_ins:
                stand_ins.append((OrderedDict, unknown.group(1)))
                continue
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise WeightsError(f"{path}: cannot be read as a PyTorch checkpoint ({first_line})") from None
    else:
        raise WeightsError(f"{path}: holds too many foreign objects to be read safely")
    if not isinstance(state, dict):
        raise WeightsError(f"{path}: holds a {type(state).__name__}, expected a dict")
    return state


def from_reference_state_dict(state: dict, path) -> dict[str, torch.Tensor]:
    """Rename the reference network's keys (with or without the Lightning
    module's ``_model.`` prefix) to ours; validate the result."""
    renamed = {}
    for key, value in state.items():
        bare = key.removeprefix("module.").removeprefix("_model.")
        if bare not in REFERENCE_KEY_MAP:
            raise WeightsError(
                f"{path}: unexpected key {key!r} for a goturn-pytorch checkpoint "
                "(expected '_model._net_1.0.weight' ... '_model._classifier.9.bias')"
            )
        renamed[REFERENCE_KEY_MAP[bare]] = value
    return check_state_dict(renamed, path)


def _read_weights(path: Path) -> tuple[str, dict[str, torch.Tensor] | dict]:
    """What ``path`` holds: ('caffenet', conv state dict), ('reference', renamed state dict) or
    ('goturn', this project's state dict, not yet checked)."""
    if path.suffix == ".npy":
        return "caffenet", load_caffenet_npy(path)
    state = _torch_load(path)
    if "state_dict" in state or any(key.startswith(("_model.", "_net_1.", "module._")) for key in state):
        return "reference", from_reference_state_dict(state.get("state_dict", state), path)
    return "goturn", state.get("model", state)


def load_pretrained(model: GoturnNet, path) -> str:
    """Load whatever weights ``path`` holds into ``model``; returns what it
    was: 'caffenet' (conv towers only), 'reference' or 'goturn'. CaffeNet and
    reference weights are the full-width network's."""
    path = Path(path)
    kind, state = _read_weights(path)
    if kind in ("caffenet", "reference") and model.network != DEFAULT_NETWORK:
        raise WeightsError(
            f"{path}: {kind} weights are {DEFAULT_NETWORK}'s; they do not fit the {model.network} network"
        )
    if kind == "goturn":
        state = check_state_dict(state, path, network=model.network)
    model.load_state_dict(state, strict=kind != "caffenet")
    return kind


def load_network(path) -> tuple[GoturnNet, str]:
    """A GoturnNet of the network the weights in ``path`` were made for, with those weights;
    and what the file was (see ``load_pretrained``)."""
    path = Path(path)
    kind, state = _read_weights(path)
    network = network_of(state) if kind == "goturn" else DEFAULT_NETWORK
    with torch.device("meta"):
        model = GoturnNet(network)
    # Every parameter is overwritten by the file (or stays unused): skip the random init.
    model = model.to_empty(device="cpu")
    if kind == "goturn":
        state = check_state_dict(state, path, network=network)
    model.load_state_dict(state, strict=kind != "caffenet")
    return model, kind


def training_args(path) -> dict:
    """The flags a checkpoint of this project was trained with; {} for any other file (its
    loading reports the file's problems)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:
        return {}
    return (state.get("args") or {}) if isinstance(state, dict) else {}
