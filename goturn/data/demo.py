"""A small synthetic GOTURN data set in the real on-disk formats.

``python -m goturn.data.demo --out dataset/goturn_demo`` writes, in seconds::

    ALOV/images/<category>/<video>/00000001.jpg ...   every frame (JPEG)
    ALOV/gt/<category>/<video>.ann                    every 5th frame, polygons
    ILSVRC2014_Det/images/<folder>/<name>.JPEG
    ILSVRC2014_Det/gt/<folder>/<name>.xml             ILSVRC XML

Each ALOV video shows one textured object (checks or stripes in its own
colours, rectangular or elliptic, outlined) moving and changing scale over a
textured, cluttered background. The 14 categories carry ALOV300++'s names,
and each adds what its name says (``CATEGORIES``): light changes, a texture
that changes, a highlight, a see-through object, a changing shape, jerky
motion, a panning camera, more clutter, a look-alike distractor, low
contrast, an occluder passing in front, a fast camera pan, a zoom, a longer
video in which the object walks out of the picture for a while and comes
back. As in ALOV, occluded objects keep their box (where they are behind the
occluder); an object partly outside the picture is annotated by its visible
part, and one (nearly) outside is not annotated.

DET images hold 1-3 such objects; the set also contains what the loaders must
filter: objects larger than 0.66 of the image, a folder of negatives
(``..._extra0``, no objects), and an image whose XML size differs from its
pixels. The loaders' own rules hold out the last video of each category (14)
and the last DET folder, so training on this set exercises the real code
paths and the evaluation has one held-out video per category.

The output is written to ``<out>.tmp`` and renamed when complete; an existing
complete set of this version is kept unless ``--force`` is given.
"""

import argparse
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from common.atomic import replace_folder

FORMAT_VERSION = "5"
MARKER = ".complete"
DET_FOLDERS = 8
WIDTH, HEIGHT = 320, 240
ANNOTATE_EVERY = 5
# A frame is annotated only when this share of the object is inside the picture.
MIN_VISIBLE = 0.3


@dataclass(frozen=True)
class Category:
    """What a category's videos add to the plain moving object."""

    light: float = 0.0  # amplitude of the global brightness change
    texture_change: bool = False  # the object's texture turns into another one
    highlight: bool = False  # a bright spot wanders over the object
    opacity: float = 1.0  # < 1: the background shows through the object
    shape_change: float = 0.0  # amplitude of the aspect-ratio change
    jerk: float = 0.0  # extra velocity noise and kicks
    pan: float = 0.0  # camera pan speed (pixels per frame, background moves)
    clutter: int = 0  # extra clutter shapes
    distractor: bool = False  # a look-alike object moving nearby
    low_contrast: bool = False  # object colours close to the background's
    occluder: bool = False  # an opaque object crosses in front
    zoom: float = 0.0  # amplitude of the camera zoom
    walk_out: bool = False  # the object walks out of the picture and back
    length: float = 1.0  # frames x this


CATEGORIES = {
    "01-Light": Category(light=0.35),
    "02-SurfaceCover": Category(texture_change=True),
    "03-Specularity": Category(highlight=True),
    "04-Transparency": Category(opacity=0.8),
    "05-Shape": Category(shape_change=0.3),
    "06-MotionSmoothness": Category(jerk=1.0),
    "07-MotionCoherence": Category(pan=1.5),
    "08-Clutter": Category(clutter=24),
    "09-Confusion": Category(distractor=True),
    "10-LowContrast": Category(low_contrast=True),
    "11-Occlusion": Category(occluder=True),
    "12-MovingCamera": Category(pan=6.0),
    "13-ZoomingCamera": Category(zoom=0.35),
    "14-LongDuration": Category(walk_out=True, length=2.0),
}


def background(rng: np.random.Generator, width: int, height: int, clutter: int = 0) -> np.ndarray:
    """Smooth colour field, clutter shapes and grain."""
    low = rng.integers(40, 216, size=(4 * height // HEIGHT, 5 * width // WIDTH, 3)).astype(np.uint8)
    image = cv2.resize(low, (width, height), interpolation=cv2.INTER_CUBIC)
    area = width * height / (WIDTH * HEIGHT)
    for _ in range(int(area * rng.integers(6, 12)) + clutter):
        colour = tuple(int(c) for c in rng.integers(30, 226, 3))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.integers(6, max(8, WIDTH // 6)))
        if rng.random() < 0.5:
            cv2.rectangle(image, (x, y), (x + size, y + size // 2), colour, -1)
        else:
            cv2.circle(image, (x, y), size // 2, colour, -1)
    grain = rng.normal(0, 6, image.shape)
    return np.clip(image + grain, 0, 255).astype(np.uint8)


def object_texture(
    rng: np.random.Generator, size: int = 96, colours=None, rectangle: bool | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A texture and its mask (rectangle or ellipse, outlined)."""
    if colours is None:
        colours = rng.integers(0, 256, size=(2, 3))
        colours[1] = 255 - colours[0]
    cell = int(rng.integers(8, 24))
    yy, xx = np.mgrid[0:size, 0:size]
    if rng.random() < 0.5:
        pattern = ((xx // cell + yy // cell) % 2).astype(np.int64)
    else:
        pattern = (((xx + yy) // cell) % 2).astype(np.int64)
    texture = np.asarray(colours)[pattern].astype(np.uint8)
    mask = np.zeros((size, size), np.uint8)
    if rectangle is None:
        rectangle = bool(rng.random() < 0.5)
    if rectangle:
        mask[:] = 255
        cv2.rectangle(texture, (0, 0), (size - 1, size - 1), (20, 20, 20), 4)
    else:
        cv2.ellipse(mask, (size // 2, size // 2), (size // 2 - 1, size // 2 - 1), 0, 0, 360, 255, -1)
        cv2.ellipse(
            texture, (size // 2, size // 2), (size // 2 - 3, size // 2 - 3), 0, 0, 360, (20, 20, 20), 4
        )
    return texture, mask


def paste(image: np.ndarray, texture: np.ndarray, mask: np.ndarray, box, opacity: float = 1.0) -> None:
    """Draw the textured object into ``box`` (x1, y1, x2, y2, floats)."""
    x1, y1 = round(box[0]), round(box[1])
    x2, y2 = round(box[2]), round(box[3])
    width, height = x2 - x1, y2 - y1
    if width < 2 or height < 2:
        return
    ix1, iy1 = max(0, x1), max(0, y1)
    ix2, iy2 = min(image.shape[1], x2), min(image.shape[0], y2)
    if ix2 <= ix1 or iy2 <= iy1:
        return
    patch = cv2.resize(texture, (width, height), interpolation=cv2.INTER_LINEAR)
    alpha = cv2.resize(mask, (width, height), interpolation=cv2.INTER_LINEAR)[..., None] * (opacity / 255.0)
    region = image[iy1:iy2, ix1:ix2]
    sub_patch = patch[iy1 - y1 : iy2 - y1, ix1 - x1 : ix2 - x1]
    sub_alpha = alpha[iy1 - y1 : iy2 - y1, ix1 - x1 : ix2 - x1]
    region[:] = (sub_alpha * sub_patch + (1 - sub_alpha) * region).astype(np.uint8)


def smooth_step(t: np.ndarray, start: float, stop: float) -> np.ndarray:
    """0 before ``start``, 1 after ``stop``, a smooth ramp between."""
    x = np.clip((t - start) / max(stop - start, 1e-9), 0.0, 1.0)
    return x * x * (3 - 2 * x)


def excursion(frames: int, rng: np.random.Generator) -> np.ndarray:
    """0 -> 1 -> 0 in the second half of a video: on the way out, a while away (1), back."""
    t = np.arange(frames, dtype=np.float64)
    leave = rng.uniform(0.5, 0.55) * frames
    back = rng.uniform(0.68, 0.72) * frames
    ramp = 0.08 * frames
    return smooth_step(t, leave, leave + ramp) - smooth_step(t, back, back + ramp)


def object_track(
    rng: np.random.Generator,
    frames: int,
    width: int,
    height: int,
    jerk: float = 0.0,
    shape_change: float = 0.0,
) -> np.ndarray:
    """Boxes (frames, 4) of an object moving smoothly and changing scale,
    kept inside a ``width`` x ``height`` area."""
    base_w = rng.uniform(0.14, 0.26) * WIDTH
    aspect = rng.uniform(0.7, 1.4)
    centre = np.array([rng.uniform(0.35, 0.65) * width, rng.uniform(0.35, 0.65) * height])
    velocity = rng.normal(0, 2.0, 2)
    phase, period = rng.uniform(0, 2 * np.pi), rng.uniform(25, 60)
    shape_phase = rng.uniform(0, 2 * np.pi)
    boxes = np.empty((frames, 4))
    for t in range(frames):
        scale = 1.0 + 0.3 * np.sin(phase + 2 * np.pi * t / period)
        stretch = 1.0 + shape_change * np.sin(shape_phase + 2 * np.pi * t / 30)
        w, h = base_w * scale / np.sqrt(stretch), base_w * aspect * scale * np.sqrt(stretch)
        velocity = 0.9 * velocity + rng.normal(0, 0.9 * (1 + 0.5 * jerk), 2)
        if jerk and rng.random() < 0.08:
            velocity += rng.normal(0, 2.0 * jerk, 2)
        centre = centre + velocity
        low, high = np.array([w / 2 + 2, h / 2 + 2]), np.array([width - w / 2 - 2, height - h / 2 - 2])
        bounced = (centre < low) | (centre > high)
        velocity[bounced] *= -1
        centre = np.clip(centre, low, high)
        boxes[t] = [centre[0] - w / 2, centre[1] - h / 2, centre[0] + w / 2, centre[1] + h / 2]
    return boxes


def distractor_track(rng: np.random.Generator, frames: int, track: np.ndarray, area) -> np.ndarray:
    """The look-alike's path: it starts clear of the object (a first box that shows both would
    leave which one is meant to chance) and moves in the same area, so the two can cross."""
    for _ in range(100):
        boxes = object_track(rng, frames, *area)
        if not boxes_overlap(boxes[0], track[0], margin=10.0):
            break
    return boxes


def boxes_overlap(a: np.ndarray, b: np.ndarray, margin: float = 0.0) -> bool:
    """Whether corner boxes ``a`` and ``b`` come closer than ``margin`` pixels."""
    return bool(
        a[0] < b[2] + margin and b[0] < a[2] + margin and a[1] < b[3] + margin and b[1] < a[3] + margin
    )


class Camera:
    """Which part of the world each frame shows: the window's top-left corner
    and its zoom (the world is shown ``zoom`` times larger)."""

    def __init__(self, origins: np.ndarray, zooms: np.ndarray):
        self.origins, self.zooms = origins, zooms

    def frame(self, world: np.ndarray, t: int) -> np.ndarray:
        zoom, (x0, y0) = self.zooms[t], self.origins[t]
        matrix = np.array([[zoom, 0, -zoom * x0], [0, zoom, -zoom * y0]], dtype=np.float64)
        return cv2.warpAffine(
            world, matrix, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )

    def to_frame(self, box: np.ndarray, t: int) -> np.ndarray:
        zoom, (x0, y0) = self.zooms[t], self.origins[t]
        return (box - np.array([x0, y0, x0, y0])) * zoom


def camera_for(
    category: Category, rng: np.random.Generator, frames: int, track: np.ndarray, world_size: tuple[int, int]
) -> Camera:
    t = np.arange(frames, dtype=np.float64)
    world_w, world_h = world_size
    origins = np.zeros((frames, 2))
    zooms = np.ones(frames)
    if category.pan:
        # A slow pan across the (wider) world, back and forth; the object's
        # path is in the picture (render_video moves it with the camera).
        span = world_w - WIDTH
        origins[:, 0] = span / 2 + span / 2 * np.sin(rng.uniform(0, 2 * np.pi) + t * category.pan / span)
    if category.zoom:
        zooms = 1.0 + category.zoom * np.sin(rng.uniform(0, 2 * np.pi) + 2 * np.pi * t / frames)
        # Zoom about the object's path so it stays in view.
        centres = (track[:, :2] + track[:, 2:]) / 2
        origins = centres - np.array([WIDTH, HEIGHT]) / (2 * zooms[:, None])
        origins = 0.7 * origins + 0.3 * np.array([world_w - WIDTH, world_h - HEIGHT]) / 2
    return Camera(origins, zooms)


def visible_box(box: np.ndarray) -> np.ndarray | None:
    """The part of ``box`` inside the picture, or None when too little is."""
    clipped = np.array(
        [max(box[0], 0.0), max(box[1], 0.0), min(box[2], WIDTH - 1.0), min(box[3], HEIGHT - 1.0)]
    )
    area = (box[2] - box[0]) * (box[3] - box[1])
    inside = max(0.0, clipped[2] - clipped[0]) * max(0.0, clipped[3] - clipped[1])
    return clipped if inside >= MIN_VISIBLE * area and min(clipped[2:] - clipped[:2]) >= 4 else None


def low_contrast_colours(rng: np.random.Generator, scene: np.ndarray) -> np.ndarray:
    mean = scene.reshape(-1, 3).mean(axis=0)
    offset = rng.uniform(20, 35) * rng.choice([-1.0, 1.0], size=3)
    return np.clip(np.stack([mean + offset, mean - offset]), 0, 255).astype(np.int64)


def render_video(category: Category, rng: np.random.Generator, frames: int):
    """The frames (BGR uint8) and the object's box in each frame (None where
    it is not annotated)."""
    frames = round(frames * category.length)
    world_w = 2 * WIDTH if (category.pan or category.zoom) else WIDTH
    world_h = 2 * HEIGHT if category.zoom else HEIGHT
    scene = background(rng, world_w, world_h, category.clutter)
    colours = low_contrast_colours(rng, scene) if category.low_contrast else None
    texture, mask = object_texture(rng, colours=colours)
    other_texture = object_texture(rng)[0] if category.texture_change else None
    area = (world_w, world_h)
    if category.pan:
        # The object moves in the picture; the camera's pan is added below (the background moves).
        area = (WIDTH, HEIGHT)
    track = object_track(rng, frames, *area, jerk=category.jerk, shape_change=category.shape_change)
    if category.walk_out:
        # Out through the nearer side, far enough to be wholly outside, then back.
        side = -1.0 if track[:, [0, 2]].mean() < WIDTH / 2 else 1.0
        distance = track[:, 2].max() + 10 if side < 0 else WIDTH - track[:, 0].min() + 10
        track[:, [0, 2]] += (side * distance * excursion(frames, rng))[:, None]
    camera = camera_for(category, rng, frames, track, (world_w, world_h))
    if category.pan:
        track += np.concatenate([camera.origins, camera.origins], axis=1)
    distractor = None
    if category.distractor:
        rectangle = bool(mask[0, 0] > 0)
        distractor = (*object_texture(rng, rectangle=rectangle), distractor_track(rng, frames, track, area))
    occluder = occluder_path(rng, frames, camera, track) if category.occluder else None
    light_phase = rng.uniform(0, 2 * np.pi)
    images, boxes = [], []
    for t in range(frames):
        world = scene.copy()
        if distractor is not None:
            paste(world, distractor[0], distractor[1], distractor[2][t])
        skin = texture
        if other_texture is not None:
            blend = smooth_step(np.array(t), 0.2 * frames, 0.8 * frames)
            skin = cv2.addWeighted(texture, float(1 - blend), other_texture, float(blend), 0.0)
        paste(world, skin, mask, track[t], category.opacity)
        if category.highlight:
            add_highlight(world, track[t], t)
        frame = (
            camera.frame(world, t) if world.shape[:2] != (HEIGHT, WIDTH) or camera.zooms[t] != 1 else world
        )
        if occluder is not None:
            occluder_texture, occluder_mask, occluder_boxes = occluder
            paste(frame, occluder_texture, occluder_mask, occluder_boxes[t])
        if category.light:
            gain = 1.0 + category.light * np.sin(light_phase + 2 * np.pi * t / 40)
            frame = cv2.convertScaleAbs(frame, alpha=gain)
        images.append(frame)
        boxes.append(visible_box(camera.to_frame(track[t], t)))
    return images, boxes


def add_highlight(image: np.ndarray, box: np.ndarray, t: int) -> None:
    """A bright soft spot moving over the object."""
    x1, y1, x2, y2 = box
    cx = x1 + (x2 - x1) * (0.5 + 0.35 * np.sin(t / 6.0))
    cy = y1 + (y2 - y1) * (0.5 + 0.35 * np.cos(t / 9.0))
    radius = 0.35 * min(x2 - x1, y2 - y1)
    size = int(np.ceil(3 * radius)) | 1
    ix, iy = round(cx) - size // 2, round(cy) - size // 2
    yy, xx = np.mgrid[0:size, 0:size] - size // 2
    spot = np.exp(-(xx**2 + yy**2) / (2 * radius**2))[..., None] * 80
    tx1, ty1 = max(ix, 0), max(iy, 0)
    tx2, ty2 = min(ix + size, image.shape[1]), min(iy + size, image.shape[0])
    if tx2 > tx1 and ty2 > ty1:
        region = image[ty1:ty2, tx1:tx2].astype(np.float32)
        region += spot[ty1 - iy : ty2 - iy, tx1 - ix : tx2 - ix]
        image[ty1:ty2, tx1:tx2] = np.clip(region, 0, 255).astype(np.uint8)


def occluder_path(rng: np.random.Generator, frames: int, camera: Camera, track: np.ndarray):
    """An opaque object, larger than the tracked one, crossing the picture in
    front of it in the middle of the video (in picture coordinates)."""
    texture, mask = object_texture(rng)
    middle = int(rng.uniform(0.4, 0.6) * frames)
    target = camera.to_frame(track[middle], middle)
    w = (target[2] - target[0]) * rng.uniform(1.1, 1.5)
    h = (target[3] - target[1]) * rng.uniform(1.3, 1.8)
    speed = rng.uniform(4.0, 6.0) * rng.choice([-1.0, 1.0])
    cy = (target[1] + target[3]) / 2 + rng.uniform(-0.15, 0.15) * h
    cx_middle = (target[0] + target[2]) / 2
    cx = cx_middle + speed * (np.arange(frames) - middle)
    return (
        texture,
        mask,
        np.stack([cx - w / 2, np.full(frames, cy - h / 2), cx + w / 2, np.full(frames, cy + h / 2)], axis=1),
    )


def write_jpeg(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 90]):
        raise OSError(f"could not write {path}")


def ann_line(frame_index: int, box: np.ndarray) -> str:
    x1, y1, x2, y2 = box + 1.0  # ALOV corners are 1-based
    corners = (x1, y2, x1, y1, x2, y1, x2, y2)  # a polygon, not a box
    return f"{frame_index + 1} " + " ".join(f"{v:.2f}" for v in corners)


def write_alov(root: Path, rng: np.random.Generator, videos_per_category: int, frames: int) -> int:
    count = 0
    for name, category in CATEGORIES.items():
        for number in range(1, videos_per_category + 1):
            video = f"{name}_video{number:05d}"
            images, boxes = render_video(category, rng, frames)
            lines = []
            for t, (image, box) in enumerate(zip(images, boxes)):
                write_jpeg(root / "images" / name / video / f"{t + 1:08d}.jpg", image)
                if t % ANNOTATE_EVERY == 0 and box is not None:
                    lines.append(ann_line(t, box))
            count += len(images)
            ann = root / "gt" / name / f"{video}.ann"
            ann.parent.mkdir(parents=True, exist_ok=True)
            ann.write_text("\n".join(lines) + "\n")
    return count


def det_xml(folder: str, name: str, width: int, height: int, boxes) -> str:
    objects = "".join(
        f"\t<object>\n\t\t<name>{folder}</name>\n\t\t<bndbox>\n\t\t\t<xmin>{x1}</xmin>\n"
        f"\t\t\t<ymin>{y1}</ymin>\n\t\t\t<xmax>{x2}</xmax>\n\t\t\t<ymax>{y2}</ymax>\n"
        "\t\t</bndbox>\n\t</object>\n"
        for x1, y1, x2, y2 in boxes
    )
    return (
        f"<annotation>\n\t<folder>{folder}</folder>\n\t<filename>{name}</filename>\n"
        "\t<source>\n\t\t<database>ILSVRC_2014</database>\n\t</source>\n"
        f"\t<size>\n\t\t<width>{width}</width>\n\t\t<height>{height}</height>\n"
        f"\t\t<depth>3</depth>\n\t</size>\n{objects}</annotation>\n"
    )


def write_det(root: Path, rng: np.random.Generator, images_per_folder: int) -> int:
    folders = [f"n{1000000 + 1111 * k:08d}" for k in range(1, DET_FOLDERS + 1)]
    count = 0
    for folder_index, folder in enumerate(folders):
        for number in range(images_per_folder):
            name = f"{folder}_{1000 + number}"
            width, height = int(rng.integers(260, 360)), int(rng.integers(200, 280))
            image = background(rng, width, height)
            boxes = []
            for _ in range(int(rng.integers(1, 4))):
                w = rng.uniform(0.12, 0.4) * width
                h = w * rng.uniform(0.7, 1.4)
                x1, y1 = rng.uniform(0, width - w), rng.uniform(0, max(1.0, height - h))
                box = (x1, y1, x1 + w, min(height - 1.0, y1 + h))
                paste(image, *object_texture(rng), box)
                boxes.append(tuple(round(v) for v in box))
            if number == 0:
                # A background object too large to be used (> 0.66 of the image).
                boxes.append((2, 2, width - 3, height - 3))
            xml_width, xml_height = width, height
            if folder_index == 0 and number == 1:
                # The XML describes a larger original; boxes must be rescaled.
                xml_width, xml_height = 2 * width, 2 * height
                boxes = [(2 * x1, 2 * y1, 2 * x2, 2 * y2) for x1, y1, x2, y2 in boxes]
            write_jpeg(root / "images" / folder / f"{name}.JPEG", image)
            xml = root / "gt" / folder / f"{name}.xml"
            xml.parent.mkdir(parents=True, exist_ok=True)
            xml.write_text(det_xml(folder, name, xml_width, xml_height, boxes))
            count += 1
    negatives = "ILSVRC2013_DET_train_extra0"
    for number in range(3):
        name = f"ILSVRC2013_train_{number + 1:08d}"
        width, height = 320, 240
        write_jpeg(root / "images" / negatives / f"{name}.JPEG", background(rng, width, height))
        xml = root / "gt" / negatives / f"{name}.xml"
        xml.parent.mkdir(parents=True, exist_ok=True)
        xml.write_text(det_xml(negatives, name, width, height, []))
        count += 1
    return count


def generate(
    out: Path,
    seed: int = 0,
    videos_per_category: int = 4,
    frames: int = 81,
    det_images_per_folder: int = 12,
    force: bool = False,
) -> Path:
    out = Path(out)
    marker = out / MARKER
    if marker.is_file() and marker.read_text().strip() == FORMAT_VERSION and not force:
        print(f"demo data already complete in {out} (use --force to regenerate)")
        return out
    start = time.perf_counter()
    temp = out.with_name(out.name + ".tmp")
    shutil.rmtree(temp, ignore_errors=True)
    rng = np.random.default_rng(seed)
    frames_written = write_alov(temp / "ALOV", rng, videos_per_category, frames)
    images_written = write_det(temp / "ILSVRC2014_Det", rng, det_images_per_folder)
    (temp / MARKER).write_text(FORMAT_VERSION + "\n")
    replace_folder(temp, out)
    print(
        f"wrote {frames_written} ALOV frames and {images_written} DET images to {out} "
        f"in {time.perf_counter() - start:.1f}s"
    )
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Write the synthetic GOTURN demo data set.")
    parser.add_argument("--out", required=True, help="output folder, e.g. dataset/goturn_demo")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--videos_per_category", type=int, default=4)
    parser.add_argument("--frames", type=int, default=81, help="frames per ALOV video")
    parser.add_argument("--det_images_per_folder", type=int, default=12)
    parser.add_argument("--force", action="store_true", help="regenerate even if complete")
    args = parser.parse_args(argv)
    generate(
        Path(args.out),
        args.seed,
        args.videos_per_category,
        args.frames,
        args.det_images_per_folder,
        args.force,
    )


if __name__ == "__main__":
    main()
