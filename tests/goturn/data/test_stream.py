"""Batch assembly: exact batch size, DET:ALOV 1:1, leftovers carried, no
example lost, and the same batches for any worker or rank count."""

import numpy as np
import pytest
import torch

from common.loader import RunSteps, make_loader
from goturn.data import demo
from goturn.data.alov import load_alov
from goturn.data.imagenet_det import load_imagenet_det
from goturn.data.stream import SOURCE_IDS, ExampleStream, StreamBatches


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    root = demo.generate(
        tmp_path_factory.mktemp("goturn") / "demo", videos_per_category=2, frames=16, det_images_per_folder=2
    )
    det, _ = load_imagenet_det(root / "ILSVRC2014_Det", "all")
    alov, _ = load_alov(root / "ALOV", "all")
    return det, alov


def test_every_batch_has_exactly_batch_size_examples(tables):
    stream = ExampleStream(list(tables), batch_size=50, seed=1)
    for index in (0, 1, stream.batches_per_epoch - 1, stream.batches_per_epoch + 3):
        batch = stream.batch(0, index)
        assert batch["search"].shape == (50, 227, 227, 3) and batch["search"].dtype == torch.uint8
        assert batch["label"].shape == (50, 4) and batch["label"].dtype == torch.float32
        units = np.unique(batch["stream_index"].numpy() // 11)
        assert batch["target"].shape == (len(units), 227, 227, 3)
        # Each example points at its own pair's target crop.
        expected = np.searchsorted(units, batch["stream_index"].numpy() // 11)
        np.testing.assert_array_equal(batch["target_index"].numpy(), expected)


def test_stream_loses_nothing_and_mixes_one_to_one(tables):
    det, alov = tables
    stream = ExampleStream([det, alov], batch_size=50, seed=1)
    assert stream.units_per_epoch == 2 * max(len(det), len(alov))
    assert stream.batches_per_epoch == -(-stream.units_per_epoch * 11 // 50)
    batches = [stream.batch(0, index) for index in range(stream.batches_per_epoch)]
    stream_index = torch.cat([b["stream_index"] for b in batches]).numpy()
    np.testing.assert_array_equal(stream_index, np.arange(50 * stream.batches_per_epoch))

    source = torch.cat([b["source"] for b in batches]).numpy()
    unit = stream_index // 11
    np.testing.assert_array_equal(source, np.where(unit % 2 == 0, SOURCE_IDS["det"], SOURCE_IDS["alov"]))
    in_epoch = unit < stream.units_per_epoch
    assert (source[in_epoch] == 0).sum() == (source[in_epoch] == 1).sum()

    # Within the epoch the larger source is used exactly once per sample, the
    # smaller one in whole passes (each sample equally often, +-1).
    sample = torch.cat([b["sample"] for b in batches]).numpy()
    for source_id, table in ((0, det), (1, alov)):
        firsts = sample[in_epoch & (source == source_id) & (stream_index % 11 == 0)]
        counts = np.bincount(firsts, minlength=len(table))
        assert counts.max() - counts.min() <= 1 and counts.min() >= 1


def test_a_unit_split_between_batches_is_the_same_unit(tables):
    """Leftovers are carried: the examples of a unit cut by a batch boundary
    are those the unit yields when made whole."""
    stream = ExampleStream(list(tables), batch_size=50, seed=1)
    whole = ExampleStream(list(tables), batch_size=11, seed=1)  # batch u is unit u
    b0, b1 = stream.batch(0, 0), stream.batch(0, 1)
    unit4 = whole.batch(0, 4)  # examples 44..54: 6 in batch 0, 5 in batch 1
    np.testing.assert_array_equal(torch.cat([b0["label"][44:], b1["label"][:5]]), unit4["label"])
    np.testing.assert_array_equal(torch.cat([b0["search"][44:], b1["search"][:5]]), unit4["search"])
    np.testing.assert_array_equal(b0["target"][-1], unit4["target"][0])
    np.testing.assert_array_equal(b1["target"][0], unit4["target"][0])


def test_generator_flags_take_effect(tables):
    base = ExampleStream(list(tables), batch_size=20, seed=1)
    fewer = ExampleStream(list(tables), batch_size=20, seed=1, generated=3)
    assert fewer.examples_per_unit == 4
    assert fewer.batch(0, 0)["target"].shape[0] == 5 and base.batch(0, 0)["target"].shape[0] == 2


def test_batches_depend_on_seed_epoch_and_index_only(tables):
    stream = ExampleStream(list(tables), batch_size=30, seed=5)
    again = ExampleStream(list(tables), batch_size=30, seed=5)
    for key in ((0, 3), (2, 0)):
        first, second = stream.batch(*key), again.batch(*key)
        for name in first:
            assert torch.equal(first[name], second[name]), name
    assert not torch.equal(stream.batch(0, 3)["label"], stream.batch(1, 3)["label"])
    other_seed = ExampleStream(list(tables), batch_size=30, seed=6)
    assert not torch.equal(stream.batch(0, 3)["label"], other_seed.batch(0, 3)["label"])


@pytest.mark.parametrize("workers", [0, 2])
def test_loader_gives_the_same_batches_with_any_worker_count(tables, workers):
    stream = ExampleStream(list(tables), batch_size=25, seed=3)
    steps = RunSteps(6, epochs=3)
    loader = make_loader(
        StreamBatches(stream, steps_per_epoch=6),
        steps,
        workers=workers,
        device=torch.device("cpu"),
        prefetch_factor=2,
    )
    for epoch, start in ((1, 0), (2, 4)):  # a new iteration starts at the resume point
        steps.start_at(epoch, start)
        got = list(loader)
        keys = [(e, s) for e in range(epoch, 3) for s in range(start if e == epoch else 0, 6)]
        assert len(got) == len(keys) == (3 - epoch) * 6 - start
        for batch, key in zip(got, keys):
            expected = stream.batch(*key)
            assert torch.equal(batch["search"], expected["search"])
            assert torch.equal(batch["label"], expected["label"])


def test_ranks_split_the_stream_without_overlap(tables):
    stream = ExampleStream(list(tables), batch_size=25, seed=3)
    ranks = [StreamBatches(stream, rank, world_size=2) for rank in (0, 1)]
    assert len(ranks[0]) == -(-stream.batches_per_epoch // 2)
    for step in range(3):
        for rank, batches in enumerate(ranks):
            expected = stream.batch(0, 2 * step + rank)
            assert torch.equal(batches[(0, step)]["stream_index"], expected["stream_index"])


def test_unreadable_sample_is_replaced_only_with_skip_bad(tables, tmp_path):
    det, alov = tables
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"nope")
    det_broken = type(det)(**{**det.__dict__, "paths": [str(broken), *det.paths[1:]]})
    strict = ExampleStream([det_broken, alov], batch_size=50, seed=0)
    lenient = ExampleStream([det_broken, alov], batch_size=50, seed=0, skip_bad=True)
    # The units that draw the broken image (DET's are the even ones), wherever the data put them.
    bad_units = [
        u
        for u in range(0, strict.units_per_epoch, 2)
        if det_broken.prev_image[strict.unit_sample(0, u)[1]] == 0
    ]
    index = bad_units[0] * 11 // 50
    with pytest.raises(Exception, match=r"broken\.jpg"):
        strict.batch(0, index)
    assert int(lenient.batch(0, index)["skipped"]) >= 1
