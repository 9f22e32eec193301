"""A trained GloRe network rebuilt from a checkpoint written by glore.train, with what it needs
to be used: its class names and the clip geometry it was trained on.

Evaluation, prediction and export all start here, so they agree on how a checkpoint is read.
"""

from dataclasses import dataclass, replace

import torch

from common.checkpoint import load_checkpoint
from common.device import resolve_device
from common.errors import UserError
from glore.data.clips import ClipInput
from glore.data.dataset import VideoViews
from glore.data.lists import VideoRecord
from glore.data.transforms import normalize_clips
from glore.inference.metrics import average_softmax
from glore.model import GloReNet, to_channels_last


@dataclass
class TrainedModel:
    model: GloReNet
    class_names: list[str]
    clip_input: ClipInput
    channels_last: bool  # the memory layout it was trained (and validated) in: feed it inputs so
    path: str


def load_trained_model(path, device: torch.device | str = "cpu") -> TrainedModel:
    """The network of checkpoint `path` in eval mode on `device`, with its class names and
    clip geometry (read from the training arguments stored beside the weights), in the memory
    layout it was trained in."""
    state = load_checkpoint(path)
    weights = state.get("model")
    if not isinstance(weights, dict):
        raise UserError(
            f"checkpoint {path} has no 'model' state dict: expected a checkpoint written by glore.train"
        )
    weights = {
        key.removeprefix("module.").removeprefix("_orig_mod."): value for key, value in weights.items()
    }
    if "classifier.weight" not in weights:
        raise UserError(
            f"checkpoint {path}: the model weights lack 'classifier.weight'; is it a GloRe checkpoint?"
        )
    num_classes = weights["classifier.weight"].shape[0]
    args = state.get("args") or {}
    network = args.get("network", "resnet50")
    try:
        model = GloReNet(num_classes, network=network)
        model.load_state_dict(weights)
    except (ValueError, RuntimeError) as error:
        raise UserError(
            f"checkpoint {path} does not fit the network {network!r}: {str(error).splitlines()[0]}"
        ) from error
    class_names = list(state.get("class_names") or [f"class_{i}" for i in range(num_classes)])
    if len(class_names) != num_classes:
        raise UserError(
            f"checkpoint {path} names {len(class_names)} classes but its classifier has {num_classes}"
        )
    defaults = ClipInput()
    clip_input = ClipInput(
        **{
            name: int(args.get(name, getattr(defaults, name)))
            for name in ("clip_len", "interval", "crop_size", "resize")
        }
    )
    model = model.to(device).eval()
    if args.get("channels_last"):
        # The layout training validated with: the same kernels, so the same numbers to the bit.
        model = to_channels_last(model)
    return TrainedModel(model, class_names, clip_input, bool(args.get("channels_last")), str(path))


def labels_for_model(records, data_names: list[str], model_names: list[str], args, log):
    """The test records labelled in the model's class order. The same classes in another order
    (lists written with another sort) are mapped by name; other classes are refused, since scores
    would be compared with the labels of other classes. A checkpoint without class names
    (``class_0``, ...) is taken to use the data's order."""
    if data_names == model_names:
        return records
    unnamed = model_names == [f"class_{i}" for i in range(len(model_names))]
    if unnamed and len(model_names) == len(data_names):
        log.warning(f"{args.checkpoint} stores no class names: taking {args.data_path}'s order")
        return records
    if sorted(data_names) != sorted(model_names):
        only_data = ", ".join(sorted(set(data_names) - set(model_names))[:5]) or "none"
        only_model = ", ".join(sorted(set(model_names) - set(data_names))[:5]) or "none"
        raise UserError(
            f"{args.data_path} and {args.checkpoint} name different classes (only in the data: "
            f"{only_data}; only in the checkpoint: {only_model})"
        )
    order = {name: index for index, name in enumerate(model_names)}
    relabel = [order[name] for name in data_names]
    log.warning(f"{args.data_path} lists the checkpoint's classes in another order: labels mapped by name")
    return [replace(record, label=relabel[record.label]) for record in records]


@torch.no_grad()
def predict_video(
    trained, path: str, clips: int = 10, crops: int = 3, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """Class probabilities (C) of the video or frames folder at `path`."""
    views = VideoViews([VideoRecord(path, label=-1)], trained.clip_input, clips, crops)
    inputs = views[0][0]
    logits = trained.model(normalize_clips(inputs, torch.device(device), trained.channels_last)).float().cpu()
    scored = logits[1:] if views.multi_view else logits  # view 0 is the centred clip alone
    return average_softmax(scored.unsqueeze(0))[0]


class VideoClassifier:
    """A trained GloRe checkpoint ready to name the action in a video (torch.hub's ``glore``):
    ``predict(video)`` gives the classes, most likely first, from the softmax averaged over
    ``clips`` evenly spaced clips x ``crops`` crops, exactly as glore.predict and the evaluation's
    video accuracy compute it. ``video``: a video file or a folder of img_*.jpg frames."""

    def __init__(self, checkpoint, device: str | torch.device = "auto", clips: int = 10, crops: int = 3):
        self.device = device if isinstance(device, torch.device) else resolve_device(str(device))
        self.trained = load_trained_model(checkpoint, self.device)
        self.clips, self.crops = clips, crops

    @property
    def class_names(self) -> list[str]:
        return self.trained.class_names

    def probabilities(self, video) -> torch.Tensor:
        """The class probabilities (C, in ``class_names`` order)."""
        return predict_video(self.trained, str(video), self.clips, self.crops, self.device)

    def predict(self, video, topk: int = 5) -> list[tuple[str, float]]:
        """The ``topk`` most likely classes with their probabilities."""
        top = torch.topk(self.probabilities(video), min(topk, len(self.class_names)))
        return [(self.class_names[i], p) for p, i in zip(top.values.tolist(), top.indices.tolist())]
