"""--pixels_on device: the crops cut on the training device equal cv2's in the
loader, a device batch carries the loader batch's examples, and training with
it runs and resumes bitwise."""

import json

import numpy as np
import pytest
import torch

from goturn.data import demo
from goturn.data.alov import load_alov
from goturn.data.crops import BGR_MEAN, to_network_input
from goturn.data.device_crops import DeviceCropSources, crop_batch_on_device
from goturn.data.examples import PairImages, read_image
from goturn.data.imagenet_det import load_imagenet_det
from goturn.data.stream import ExampleStream, LoaderCrops, to_device
from tests.goturn.test_train import TINY, train
from tests.helpers.devices import CPU, DEVICES

# cv2 blends with 11-bit weights and rounds to uint8; the device keeps float32.
# Measured on the random cases below and on 10 demo batches alike: at most
# 0.81 grey levels per pixel, at most 0.27 on average over a crop. A crop one
# source pixel off differs by up to 237, 10 on average over the crop
# (test_tolerance_catches_a_one_pixel_shift).
MAX_DIFFERENCE = 1.25
MEAN_DIFFERENCE = 0.5
CANVAS = -torch.tensor(BGR_MEAN)[None, :, None, None]


def frame(height, width, kind, rng):
    """uint8 BGR pixels >= 16, so the zero canvas is told apart from the image."""
    if kind == "grey":  # as read_image expands a grey JPEG
        return np.repeat(rng.integers(16, 256, (height, width, 1), dtype=np.uint8), 3, axis=2)
    if kind == "smooth":
        low = rng.integers(16, 256, (max(1, height // 8), max(1, width // 8), 3), dtype=np.uint8)
        return np.ascontiguousarray(np.kron(low, np.ones((8, 8, 1), np.uint8))[:height, :width])
    return rng.integers(16, 256, (height, width, 3), dtype=np.uint8)


def random_box(height, width, rng):
    """Boxes of every kind the crops meet: tiny, at or across a border, with
    the centre outside the image, larger than the image, ordinary."""
    kind = rng.integers(5)
    if kind == 0:
        centre, size = rng.uniform((0, 0), (width, height)), rng.uniform(0.05, 3, 2)
    elif kind == 1:
        centre = (rng.choice([0, width]) + rng.normal(0, width / 10), rng.uniform(-0.2, 1.2) * height)
        size = rng.uniform((1, 1), (width, height))
    elif kind == 2:
        centre = (rng.uniform(-0.3, 1.3) * width, rng.choice([-0.1, 1.1]) * height)
        size = rng.uniform((1, 1), (width, height))
    elif kind == 3:
        centre, size = (
            rng.uniform((0, 0), (width, height)),
            rng.uniform((width / 2, height / 2), (3 * width, 3 * height)),
        )
    else:
        centre, size = rng.uniform((0, 0), (width, height)), rng.uniform((1, 1), (width, height))
    centre, size = np.asarray(centre, float), np.asarray(size, float)
    return np.concatenate([centre - size / 2, centre + size / 2])


def crops_both_ways(units, device=CPU):
    """``units``: (pair, frame keys, search boxes). Returns the loader's and
    the device's network inputs (target, search; the latter cut on
    ``device``, brought back to the CPU) and checks the labels."""
    examples = sum(len(centres) for _, _, centres in units)
    loader, sources = LoaderCrops(examples, len(units)), DeviceCropSources(examples, len(units))
    filled = 0
    for slot, (pair, keys, centres) in enumerate(units):
        rows = slice(filled, filled + len(centres))
        labels = loader.add_unit(slot, pair, keys, centres, rows)
        np.testing.assert_array_equal(sources.add_unit(slot, pair, keys, centres, rows), labels)
        filled = rows.stop
    expected = loader.tensors()
    got = crop_batch_on_device(sources.tensors(), device)
    assert all(crops.device.type == device.type for crops in got)
    loader_crops = (to_network_input(expected["target"]), to_network_input(expected["search"]))
    return loader_crops, [crops.cpu() for crops in got]


def assert_same_crops(got: torch.Tensor, expected: torch.Tensor, no_black_pixels: bool = True):
    assert got.shape == expected.shape and got.dtype == torch.float32
    assert got.is_contiguous(memory_format=torch.channels_last)
    difference = (got - expected).abs()
    assert difference.amax(dim=(1, 2, 3)).max() <= MAX_DIFFERENCE
    assert difference.mean(dim=(1, 2, 3)).max() <= MEAN_DIFFERENCE
    if no_black_pixels:
        # Where the device samples nothing but canvas, so does cv2 (told apart
        # from the image only where no image pixel is 0; the converse fails
        # where cv2 rounds a faint blend with the canvas down to 0).
        assert (expected == CANVAS)[got == CANVAS].all()


@pytest.mark.parametrize("device", DEVICES)
def test_device_crops_equal_cv2_crops_on_random_boxes(device):
    rng = np.random.default_rng(0)
    shapes = [
        (480, 640, "noise"),
        (375, 500, "smooth"),
        (333, 500, "grey"),
        (37, 53, "noise"),
        (2, 3, "noise"),
        (1, 9, "grey"),
        (240, 320, "smooth"),
        (719, 1279, "noise"),
    ]
    frames = [frame(height, width, kind, rng) for height, width, kind in shapes]
    units = []
    for _ in range(24):
        prev, curr = (int(k) for k in rng.integers(len(frames), size=2))
        size = [frames[k].shape[:2] for k in (prev, curr)]
        pair = PairImages(frames[prev], random_box(*size[0], rng), frames[curr], random_box(*size[1], rng))
        units.append((pair, (prev, curr), np.stack([random_box(*size[1], rng) for _ in range(8)])))
    # A box whose centre lies above the image: its one-row region lands on
    # the canvas' last row (the original clamps the edge spacing to the
    # canvas), which the resize replicates down to the crop's bottom edge.
    sliver = np.array([[414.76, -13.54, 639.35, -11.52]])
    units.append((PairImages(frames[0], sliver[0], frames[0], sliver[0]), (0, 0), sliver))
    (target, search), (device_target, device_search) = crops_both_ways(units, device)
    assert_same_crops(device_target, target)
    assert_same_crops(device_search, search)
    assert (device_search[-1, :, :100] == CANVAS[0]).all() and (device_search[-1, :, -10:] != CANVAS[0]).any()
    # Most crops hold image pixels: the comparison is not between empty canvases.
    assert (search != CANVAS).flatten(1).any(dim=1).float().mean() > 0.9


def test_tolerance_catches_a_one_pixel_shift():
    """A crop one source pixel off, as a wrong frame offset or rectangle
    would give, fails the tolerance (on blocks of 8 x 8 pixels: only the
    block edges change)."""
    rng = np.random.default_rng(1)
    image = frame(300, 400, "smooth", rng)
    box = np.array([150.0, 100.0, 263.5, 213.5])  # context 227 x 227: a 1:1 crop

    def target_crops(target_box):
        pair = PairImages(image, target_box, image, target_box)
        (target, _), (device_target, _) = crops_both_ways([(pair, (0, 0), target_box[None])])
        return target, device_target

    expected, device_crop = target_crops(box)
    assert_same_crops(device_crop, expected)
    for offset in ([1, 0, 1, 0], [0, 1, 0, 1]):
        _, moved = target_crops(box + offset)
        difference = (moved - expected).abs()
        assert difference.max() > 10 * MAX_DIFFERENCE and difference.mean() > 4 * MEAN_DIFFERENCE, offset


@pytest.fixture(scope="module")
def data_path(tmp_path_factory):
    return demo.generate(
        tmp_path_factory.mktemp("goturn") / "demo", videos_per_category=2, frames=16, det_images_per_folder=2
    )


@pytest.fixture(scope="module")
def tables(data_path):
    det, _ = load_imagenet_det(data_path / "ILSVRC2014_Det", "all")
    alov, _ = load_alov(data_path / "ALOV", "all")
    return [det, alov]


@pytest.mark.parametrize("epoch, index", [(0, 0), (0, 1), (2, 5)])  # batch 1 starts inside a unit
def test_device_batch_carries_the_loader_batch(tables, epoch, index):
    loader_batch = ExampleStream(tables, batch_size=50, seed=4).batch(epoch, index)
    batch = ExampleStream(tables, batch_size=50, seed=4, crops_on="device").batch(epoch, index)
    assert "search" not in batch and "target" not in batch
    for key in ("label", "target_index", "stream_index", "source", "sample", "skipped"):
        assert torch.equal(batch[key], loader_batch[key]), key
    device_target, device_search = crop_batch_on_device(batch, CPU)
    # The demo's images have black pixels: the placement is checked above.
    assert_same_crops(device_target, to_network_input(loader_batch["target"]), no_black_pixels=False)
    assert_same_crops(device_search, to_network_input(loader_batch["search"]), no_black_pixels=False)

    # Each distinct image once, as decoded: a DET object's two frames are one.
    table, frames = batch["frame_table"], batch["frames"]
    assert frames.dtype == torch.uint8 and table[-1, 0] + table[-1, 1] * table[-1, 2] == len(frames)
    units = len(batch["target_rects"])
    target_frames, search_frames = batch["target_rects"][:, 0], batch["search_rects"][:, 0]
    for slot in range(units):
        searched = search_frames[batch["target_index"] == slot].unique()
        assert len(searched) == 1
        is_det = batch["source"][batch["target_index"] == slot][0] == 0
        assert (searched[0] == target_frames[slot]) == bool(is_det)
    assert len(table) == len(set(target_frames.tolist()) | set(search_frames.tolist())) <= 2 * units
    det, alov = tables
    first = batch["sample"][0]
    source_table = det if batch["source"][0] == 0 else alov
    decoded = read_image(source_table.paths[source_table.curr_image[first]])
    start, height, width = table[search_frames[0]].tolist()
    assert torch.equal(
        frames[start : start + height * width].view(height, width, 3), torch.from_numpy(decoded)
    )


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("channels_last", [True, False])
def test_to_device_gives_the_network_the_same_inputs(tables, channels_last, device):
    """Crops cut on ``device`` from a device batch, and the loader's crops
    copied there: the same network inputs, labels and target indices."""
    loader_batch = ExampleStream(tables, batch_size=20, seed=2).batch(0, 3)
    device_batch = ExampleStream(tables, batch_size=20, seed=2, crops_on="device").batch(0, 3)
    loader_inputs = [tensor.cpu() for tensor in to_device(loader_batch, device, channels_last)]
    inputs = [tensor.cpu() for tensor in to_device(device_batch, device, channels_last)]
    for got, expected in zip(inputs[:2], loader_inputs[:2]):
        assert got.shape == expected.shape and got.stride() == expected.stride()
        assert (got - expected).abs().max() <= MAX_DIFFERENCE
    assert torch.equal(inputs[2], loader_inputs[2]) and torch.equal(inputs[3], loader_inputs[3])


def test_unknown_crops_on_is_refused(tables):
    with pytest.raises(ValueError, match="crops_on"):
        ExampleStream(tables, batch_size=8, seed=0, crops_on="gpu")


def test_training_with_device_crops_runs_and_resumes_bitwise(data_path, tmp_path):
    """Two steps straight (validating on device crops too), or one step, a
    checkpoint and one more step: the same weights and losses."""
    assert TINY[TINY.index("--workers") + 1] != "0"  # the batches cross a worker process
    straight, halves = tmp_path / "straight", tmp_path / "halves"
    common = ["--pixels_on", "device", "--epochs", "1"]
    log = train(data_path, straight, *common, "--max_steps", "2")
    # Validation changes no weight: the two halves skip it, to save time.
    train(data_path, halves, *common, "--max_steps", "1", "--val_batches", "0")
    train(data_path, halves, *common, "--max_steps", "2", "--val_batches", "0", "--resume", "auto")
    assert "crops cut on cpu" in log and "validation at step 0" in log and "validation at step 2" in log
    final = [torch.load(path / "checkpoint.pth", weights_only=True) for path in (straight, halves)]
    assert final[0]["step"] == final[1]["step"] == 2 and final[0]["args"]["pixels_on"] == "device"
    for key, value in final[0]["model"].items():
        assert torch.equal(value, final[1]["model"][key]), key
    losses = (straight / "loss.txt").read_text()
    assert losses == (halves / "loss.txt").read_text() and len(losses.splitlines()) == 2
    assert all(np.isfinite(float(line.split()[1])) for line in losses.splitlines())
    results = [json.loads((path / "result.json").read_text()) for path in (straight, halves)]
    assert results[0]["accuracy_name"].startswith("val loss") and np.isfinite(results[0]["accuracy"])
    assert results[1]["accuracy_name"].startswith("not measured") and results[1]["accuracy"] is None
