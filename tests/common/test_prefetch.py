import itertools
import threading
import time

import pytest
import torch

from common.prefetch import BackgroundIterator


def test_items_arrive_in_order_and_then_stop():
    with BackgroundIterator(range(100), depth=3) as items:
        assert list(items) == list(range(100))
        with pytest.raises(StopIteration):
            next(items)


def test_a_source_error_comes_after_the_items_before_it():
    def source():
        yield 1
        yield 2
        raise ValueError("bad clip /data/x.avi")

    items = BackgroundIterator(source())
    assert next(items) == 1
    assert next(items) == 2
    with pytest.raises(ValueError, match=r"bad clip /data/x\.avi"):
        next(items)
    with pytest.raises(StopIteration):
        next(items)


def test_close_stops_a_thread_waiting_on_a_full_queue():
    produced = []

    def endless():
        for n in itertools.count():
            produced.append(n)
            yield n

    items = BackgroundIterator(endless(), depth=2)
    assert next(items) == 0
    time.sleep(0.2)  # the thread fills the queue and blocks
    items.close()
    assert not items._thread.is_alive()
    count = len(produced)
    time.sleep(0.2)
    assert len(produced) == count  # nothing more is pulled from the source
    assert count <= 5  # at most depth ahead (+ the one in hand and the one being put)


def test_the_thread_pulls_ahead_while_the_consumer_works():
    pulled = threading.Event()

    def source():
        yield "first"
        pulled.set()  # reached only if the second item is pulled before it is asked for
        yield "second"

    with BackgroundIterator(source(), depth=1) as items:
        assert next(items) == "first"
        assert pulled.wait(5)


def test_depth_must_be_positive():
    with pytest.raises(ValueError, match="depth"):
        BackgroundIterator([], depth=0)


def test_a_data_loader_with_workers_gives_the_same_batches():
    data = torch.arange(40.0).view(20, 2)

    def loader():
        return torch.utils.data.DataLoader(
            data, batch_size=4, num_workers=1, shuffle=True, generator=torch.Generator().manual_seed(0)
        )

    direct = [batch.clone() for batch in loader()]
    with BackgroundIterator(loader()) as items:
        prefetched = list(items)
    assert len(prefetched) == len(direct) == 5
    for a, b in zip(direct, prefetched):
        assert torch.equal(a, b)
