"""The benchmark jobs, each run in a fresh process of its own.

A fresh process per job keeps one figure from changing the next one's
conditions: allocator settings (the GloRe loader workers keep freed memory
mapped), thread pools, warm caches, a model's memory. Per-core data jobs pin
their process to one core and set it up exactly as the package's loader
worker is set up (its ``worker_init_fn``), since that is where the work runs
in training.

``python -m bench.run_job JOB SETTINGS_JSON`` (called by ``python -m bench``) runs one and
prints one JSON line per figure on stdout.
"""

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from bench.harness import Figure, Repeats, not_measured
from bench.memory import figure_names as memory_figure_names


@dataclass(frozen=True)
class Plan:
    """How long each kind of figure runs; ``--quick`` shrinks it."""

    data: Repeats
    step: Repeats
    goturn_batches_per_run: int
    goturn_pairs_per_run: int
    loader_batches_per_run: int
    clips_per_run: int
    memory_steps: int


# A data run lasts about 0.1-0.2 s here, a step run one step. The memory
# runs stay inside GloRe's 30-step demo epoch: the validation at its end
# (a loader of its own) would count as growth. Steps warm up
# for longer: oneDNN's bf16 kernels reach speed on the third step (GOTURN
# bf16, steps 1-4: 105, 149, 189, 183 examples/s).
FULL = Plan(
    data=Repeats(1, 5),
    step=Repeats(3, 3),
    goturn_batches_per_run=12,
    goturn_pairs_per_run=48,
    loader_batches_per_run=8,
    clips_per_run=24,
    memory_steps=28,
)
QUICK = Plan(
    data=Repeats(1, 3),
    step=Repeats(2, 2),
    goturn_batches_per_run=6,
    goturn_pairs_per_run=24,
    loader_batches_per_run=4,
    clips_per_run=12,
    memory_steps=24,
)

PRECISIONS = ("fp32", "bf16", "fp16")
GOTURN_NETWORKS = ("caffenet", "caffenet-tiny")
GOTURN_PAIRS = 24
GLORE_VIDEOS = 4


@dataclass(frozen=True)
class Settings:
    """What the parent passes to every job."""

    quick: bool
    device: str
    goturn_batch: int
    glore_batch: int
    step_threads: int
    workdir: str
    only: list[str] | None = None

    @property
    def plan(self) -> Plan:
        return QUICK if self.quick else FULL

    def wants(self, name: str) -> bool:
        """Whether figure ``name`` was asked for (``--only`` takes names or prefixes)."""
        return not self.only or any(name.startswith(prefix) for prefix in self.only)


@dataclass(frozen=True)
class Job:
    key: str
    model: str  # its launch script's exported environment applies (bench.scripts)
    names: list[str]  # the figures it produces
    run: Callable[[Settings], list[Figure]]
    in_process: bool = False  # jobs that start their own subprocess run in the parent
    in_quick: bool = True  # --quick leaves out the training runs unless --only names them
    precision: str | None = None  # of a model job

    def runs_in_parent(self, device: torch.device) -> bool:
        """Jobs that start their own subprocess, and model jobs that only say
        their precision is not timed on this device (fp16 on a CPU)."""
        return self.in_process or (self.precision == "fp16" and device.type == "cpu")


def _pin_to_one_core() -> None:
    """Per-core figures: this process and its threads on a single core."""
    allowed = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {allowed[-1]})


def _goturn_pairs(settings: Settings):
    from bench.inputs import goturn_pairs

    return goturn_pairs(Path(settings.workdir) / "goturn", GOTURN_PAIRS)


def _glore_videos(settings: Settings):
    from bench.inputs import glore_videos

    return glore_videos(Path(settings.workdir) / "glore", GLORE_VIDEOS)


def goturn_generation(settings: Settings) -> list[Figure]:
    from bench import goturn_data
    from common.loader import init_loader_worker

    pairs = _goturn_pairs(settings)
    _pin_to_one_core()
    init_loader_worker(0)
    plan = settings.plan
    figures = {
        "goturn.jpeg_decode": lambda: goturn_data.jpeg_decode(pairs, plan.data),
        "goturn.examples.decode": lambda: goturn_data.generation_with_decode(
            pairs, plan.goturn_batches_per_run, plan.data
        ),
        "goturn.examples.no_decode": lambda: goturn_data.generation_without_decode(
            pairs, plan.goturn_pairs_per_run, plan.data
        ),
    }
    return [measure() for name, measure in figures.items() if settings.wants(name)]


def goturn_loader(settings: Settings) -> list[Figure]:
    """The training process of a run with workers does no OpenCV work
    itself; here it writes the inputs and makes the 0-worker batches, so
    OpenCV is held to one thread first: forked workers whose parent has
    run OpenCV's thread pool hang in their ``cv2.setNumThreads`` (glibc
    condition variables copied mid-wait). The 0-worker figure is thus one
    core's, like the others."""
    import cv2

    from bench import goturn_data

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    pairs = _goturn_pairs(settings)
    return [
        goturn_data.loader_throughput(
            pairs, workers, settings.plan.loader_batches_per_run, settings.plan.data
        )
        for workers in (0, 1, 2)
        if settings.wants(f"goturn.loader.workers{workers}")
    ]


def goturn_device_crops(settings: Settings) -> list[Figure]:
    """``--pixels_on device``: the crop rate on the step device, and what a
    loader batch weighs in each mode."""
    from bench import goturn_data

    pairs = _goturn_pairs(settings)
    figures = []
    if settings.wants("goturn.device_crops"):
        figures.append(
            goturn_data.device_crops(pairs, _device(settings), settings.plan.data, settings.step_threads)
        )
    figures += [
        goturn_data.batch_bytes(pairs, mode)
        for mode in ("loader", "device")
        if settings.wants(f"goturn.batch_bytes.{mode}")
    ]
    return figures


def glore_clip_loading(settings: Settings) -> list[Figure]:
    from bench import glore_data
    from common.loader import init_loader_worker

    videos = _glore_videos(settings)
    _pin_to_one_core()
    init_loader_worker(0)
    figures = [
        glore_data.clip_loading(videos, source, settings.plan.clips_per_run, settings.plan.data)
        for source in ("rawframes", "video")
        if settings.wants(f"glore.clips.{source}")
    ]
    if settings.wants("glore.augment.loader"):
        plan = settings.plan
        figures.append(glore_data.loader_augmentation(videos, plan.clips_per_run, plan.data))
    return figures


def glore_device_augment(settings: Settings) -> list[Figure]:
    """``--pixels_on device``: the augmentation rate on the step device, and
    what a loader batch weighs in each mode."""
    from bench import glore_data

    videos = _glore_videos(settings)
    figures = []
    if settings.wants("glore.augment.device"):
        figures.append(
            glore_data.device_augmentation(
                videos, _device(settings), settings.plan.data, settings.step_threads
            )
        )
    figures += [
        glore_data.batch_bytes(videos, mode)
        for mode in ("loader", "device")
        if settings.wants(f"glore.batch_bytes.{mode}")
    ]
    return figures


def _device(settings: Settings) -> torch.device:
    from common.allocator import setup_host_allocator
    from common.device import resolve_device, set_current_device

    device = resolve_device(settings.device)
    set_current_device(device)
    setup_host_allocator(device)  # as the training process does (common.runtime)
    return device


def goturn_steps(precision: str) -> Callable[[Settings], list[Figure]]:
    def run(settings: Settings) -> list[Figure]:
        from bench import goturn_data, steps

        device = _device(settings)
        reason = steps.unsupported_precision(device, precision)
        if reason:
            return [not_measured(f"goturn.step.{precision}", "examples/s", reason, str(device))]
        batch = goturn_data.one_batch(_goturn_pairs(settings), settings.goturn_batch)
        return [steps.goturn_step(batch, device, precision, settings.plan.step, settings.step_threads)]

    return run


def goturn_tracking(settings: Settings) -> list[Figure]:
    """The tracker's frames/s beside its network's plain forward, per network."""
    from bench import goturn_tracking as tracking

    device = _device(settings)
    figures = []
    for network in GOTURN_NETWORKS:
        names = tracking_figure_names(network)
        if any(settings.wants(name) for name in names):
            measured = tracking.tracking_figures(network, device, settings.plan.step, settings.step_threads)
            figures += [figure for figure in measured if settings.wants(figure.name)]
    return figures


def tracking_figure_names(network: str) -> list[str]:
    return [f"goturn.track.forward.{network}", *(f"goturn.track.fps.{network}.{k}" for k in (1, 8))]


def glore_models(precision: str) -> Callable[[Settings], list[Figure]]:
    def run(settings: Settings) -> list[Figure]:
        from bench import steps

        device = _device(settings)
        reason = steps.unsupported_precision(device, precision)
        if reason:
            return [
                not_measured(f"glore.{kind}.{precision}", "clips/s", reason, str(device))
                for kind in ("step", "infer")
            ]
        clips = steps.glore_clips(settings.glore_batch)
        figures = {
            f"glore.step.{precision}": steps.glore_step,
            f"glore.infer.{precision}": steps.glore_inference,
        }
        return [
            measure(clips, device, precision, settings.plan.step, settings.step_threads)
            for name, measure in figures.items()
            if settings.wants(name)
        ]

    return run


def training_memory(model: str) -> Callable[[Settings], list[Figure]]:
    def run(settings: Settings) -> list[Figure]:
        from bench import memory

        return memory.training_memory(model, settings.plan.memory_steps, settings.device)

    return run


JOBS = [
    Job(
        "goturn.generation",
        "goturn",
        ["goturn.jpeg_decode", "goturn.examples.decode", "goturn.examples.no_decode"],
        goturn_generation,
    ),
    Job("goturn.loader", "goturn", [f"goturn.loader.workers{w}" for w in (0, 1, 2)], goturn_loader),
    Job(
        "goturn.device_crops",
        "goturn",
        ["goturn.device_crops", "goturn.batch_bytes.loader", "goturn.batch_bytes.device"],
        goturn_device_crops,
    ),
    *[
        Job(f"goturn.step.{p}", "goturn", [f"goturn.step.{p}"], goturn_steps(p), precision=p)
        for p in PRECISIONS
    ],
    Job(
        "goturn.track",
        "goturn",
        [name for network in GOTURN_NETWORKS for name in tracking_figure_names(network)],
        goturn_tracking,
    ),
    Job(
        "glore.clips",
        "glore",
        ["glore.clips.rawframes", "glore.clips.video", "glore.augment.loader"],
        glore_clip_loading,
    ),
    Job(
        "glore.device_augment",
        "glore",
        ["glore.augment.device", "glore.batch_bytes.loader", "glore.batch_bytes.device"],
        glore_device_augment,
    ),
    *[
        Job(
            f"glore.model.{p}", "glore", [f"glore.step.{p}", f"glore.infer.{p}"], glore_models(p), precision=p
        )
        for p in PRECISIONS
    ],
    *[
        Job(f"{m}.memory", m, memory_figure_names(m), training_memory(m), in_process=True, in_quick=False)
        for m in ("goturn", "glore")
    ],
]
JOBS_BY_KEY = {job.key: job for job in JOBS}


def settings_json(settings: Settings) -> str:
    return json.dumps(asdict(settings))
