"""The per-step bookkeeping both train.py loops share (common/steps.py) and
the throughput meter it feeds, on a fake clock: what counts as data wait,
what counts as the step, and what neither."""

import logging

import pytest

from common import steps as steps_module
from common.logs import ThroughputMeter
from common.steps import StepRecorder


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeTensorBoard:
    def __init__(self):
        self.scalars = []

    def add_scalar(self, tag, value, step):
        self.scalars.append((tag, value, step))


class FakeLossFile(list):
    def append(self, step, value):
        super().append((step, value))


class FakeRuntime:
    is_main = True

    def __init__(self):
        self.log = logging.getLogger("test_common_steps")
        self.tensorboard = FakeTensorBoard()
        self.losses = FakeLossFile()


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(steps_module.time, "perf_counter", fake)
    return fake


def slow_batches(clock, count: int, wait: float):
    for index in range(count):
        clock.advance(wait)  # the loader makes the step wait this long
        yield index


def test_wait_and_step_times_leave_out_the_work_between_steps(clock):
    rt, meter = FakeRuntime(), ThroughputMeter(warmup_steps=0)
    steps = StepRecorder(
        rt,
        meter,
        total=4,
        print_freq=1,
        desc="epoch 1/1",
        samples=50,
        rate_name="ex_per_s",
        lr_name="base_lr",
    )
    for index in steps.timed(slow_batches(clock, 4, wait=0.1)):
        clock.advance(0.3)  # the step's compute
        steps.done(index + 1, index + 1, loss=float(index), lr=0.01)
        clock.advance(5.0)  # a checkpoint after the step: neither data nor step time
    steps.close()
    assert meter.steps == 4
    assert meter.data_wait_fraction == pytest.approx(0.25)  # 0.1 of each 0.4 s step
    assert meter.samples_per_sec == pytest.approx(50 / 0.4)
    assert rt.losses == [(1, 0.0), (2, 1.0), (3, 2.0), (4, 3.0)]
    assert ("train/base_lr", 0.01, 4) in rt.tensorboard.scalars
    assert ("train/loss", 3.0, 4) in rt.tensorboard.scalars


def test_progress_line_names_the_rate_and_the_wait(clock, caplog):
    rt = FakeRuntime()
    steps = StepRecorder(
        rt, ThroughputMeter(), total=2, print_freq=2, desc="epoch 3/9", samples=8, rate_name="clips_per_s"
    )
    with caplog.at_level(logging.INFO, logger="test_common_steps"):
        for index in steps.timed(slow_batches(clock, 2, wait=0.5)):
            clock.advance(1.5)
            steps.done(index + 1, index + 1, loss=2.5, lr=0.1)
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 1  # every print_freq steps
    assert lines[0].startswith("epoch 3/9 [2/2] loss 2.5  lr 0.1  clips_per_s 4  data_wait 0.25")


def test_breaking_out_stops_taking_batches(clock):
    taken = []

    def batches():
        for index in range(10):
            taken.append(index)
            yield index

    steps = StepRecorder(
        FakeRuntime(), ThroughputMeter(), total=10, print_freq=100, desc="e", samples=1, rate_name="ex_per_s"
    )
    for index in steps.timed(batches()):
        clock.advance(1.0)
        steps.done(index + 1, index + 1, 0.0, 0.0)
        if index == 2:
            break
    assert taken == [0, 1, 2]


def test_meter_leaves_out_the_warm_up_steps():
    meter = ThroughputMeter(warmup_steps=2)
    for seconds, wait in ((10.0, 9.0), (5.0, 4.0), (1.0, 0.1), (1.0, 0.1)):
        meter.update(10, seconds, wait)
    assert meter.samples_per_sec == pytest.approx(10.0)
    assert meter.data_wait_fraction == pytest.approx(0.1)


def test_meter_of_a_run_shorter_than_its_warm_up_drops_only_the_first_step():
    meter = ThroughputMeter(warmup_steps=5)
    meter.update(10, 10.0, 0.0)
    meter.update(10, 2.0, 1.0)
    assert meter.samples_per_sec == pytest.approx(5.0)
    assert meter.data_wait_fraction == pytest.approx(0.5)
