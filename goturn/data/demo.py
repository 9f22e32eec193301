"""A small synthetic GOTURN data set in the real on-disk formats.

``python -m goturn.data.demo --out dataset/goturn_demo`` writes, in seconds::

    ALOV/images/<category>/<video>/00000001.jpg ...   every frame (JPEG)
    ALOV/gt/<category>/<video>.ann                    every 5th frame, polygons
    ILSVRC2014_Det/images/<folder>/<name>.JPEG
    ILSVRC2014_Det/gt/<folder>/<name>.xml             ILSVRC XML

Each ALOV video shows one textured object (checks or stripes in its own
colours, rectangular or elliptic, outlined) moving smoothly and changing scale
over a textured, cluttered background. DET images hold 1-3 such objects; the
set also contains what the loaders must filter: objects larger than 0.66 of
the image, a folder of negatives (``..._extra0``, no objects), and an image
whose XML size differs from its pixels. The ALOV and DET validation splits
(the last video of each category, the last folder) are held out by the
loaders' own rules, so training on this set exercises the real code paths.

The output is written to ``<out>.tmp`` and renamed when complete; an existing
complete set is kept unless ``--force`` is given.
"""

import argparse
import shutil
import time
from pathlib import Path

import cv2
import numpy as np

from common.atomic import replace_folder

FORMAT_VERSION = "1"
MARKER = ".complete"
ALOV_CATEGORIES = ("01-Light", "02-SurfaceCover", "03-Specularity", "04-Confusion")
DET_FOLDERS = 8


def background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Smooth colour field, clutter shapes and grain."""
    low = rng.integers(40, 216, size=(4, 5, 3)).astype(np.uint8)
    image = cv2.resize(low, (width, height), interpolation=cv2.INTER_CUBIC)
    for _ in range(int(rng.integers(6, 12))):
        colour = tuple(int(c) for c in rng.integers(30, 226, 3))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.integers(6, max(8, width // 6)))
        if rng.random() < 0.5:
            cv2.rectangle(image, (x, y), (x + size, y + size // 2), colour, -1)
        else:
            cv2.circle(image, (x, y), size // 2, colour, -1)
    grain = rng.normal(0, 6, image.shape)
    return np.clip(image + grain, 0, 255).astype(np.uint8)


def object_texture(rng: np.random.Generator, size: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """A texture and its mask (rectangle or ellipse, outlined)."""
    colours = rng.integers(0, 256, size=(2, 3))
    colours[1] = 255 - colours[0]
    cell = int(rng.integers(8, 24))
    yy, xx = np.mgrid[0:size, 0:size]
    if rng.random() < 0.5:
        pattern = ((xx // cell + yy // cell) % 2).astype(np.int64)
    else:
        pattern = (((xx + yy) // cell) % 2).astype(np.int64)
    texture = colours[pattern].astype(np.uint8)
    mask = np.zeros((size, size), np.uint8)
    if rng.random() < 0.5:
        mask[:] = 255
        cv2.rectangle(texture, (0, 0), (size - 1, size - 1), (20, 20, 20), 4)
    else:
        cv2.ellipse(mask, (size // 2, size // 2), (size // 2 - 1, size // 2 - 1), 0, 0, 360, 255, -1)
        cv2.ellipse(
            texture, (size // 2, size // 2), (size // 2 - 3, size // 2 - 3), 0, 0, 360, (20, 20, 20), 4
        )
    return texture, mask


def paste(image: np.ndarray, texture: np.ndarray, mask: np.ndarray, box) -> None:
    """Draw the textured object into ``box`` (x1, y1, x2, y2, floats)."""
    x1, y1 = round(box[0]), round(box[1])
    x2, y2 = round(box[2]), round(box[3])
    width, height = x2 - x1, y2 - y1
    if width < 2 or height < 2:
        return
    patch = cv2.resize(texture, (width, height), interpolation=cv2.INTER_LINEAR)
    alpha = cv2.resize(mask, (width, height), interpolation=cv2.INTER_LINEAR)[..., None] / 255.0
    ix1, iy1 = max(0, x1), max(0, y1)
    ix2, iy2 = min(image.shape[1], x2), min(image.shape[0], y2)
    if ix2 <= ix1 or iy2 <= iy1:
        return
    region = image[iy1:iy2, ix1:ix2]
    sub_patch = patch[iy1 - y1 : iy2 - y1, ix1 - x1 : ix2 - x1]
    sub_alpha = alpha[iy1 - y1 : iy2 - y1, ix1 - x1 : ix2 - x1]
    region[:] = (sub_alpha * sub_patch + (1 - sub_alpha) * region).astype(np.uint8)


def object_track(rng: np.random.Generator, frames: int, width: int, height: int) -> np.ndarray:
    """Boxes (frames, 4) of an object moving smoothly and changing scale,
    kept inside the image."""
    base_w = rng.uniform(0.14, 0.26) * width
    aspect = rng.uniform(0.7, 1.4)
    centre = np.array([rng.uniform(0.35, 0.65) * width, rng.uniform(0.35, 0.65) * height])
    velocity = rng.normal(0, 2.0, 2)
    phase, period = rng.uniform(0, 2 * np.pi), rng.uniform(25, 60)
    boxes = np.empty((frames, 4))
    for t in range(frames):
        scale = 1.0 + 0.3 * np.sin(phase + 2 * np.pi * t / period)
        w, h = base_w * scale, base_w * aspect * scale
        velocity = 0.9 * velocity + rng.normal(0, 0.9, 2)
        centre = centre + velocity
        low, high = np.array([w / 2 + 2, h / 2 + 2]), np.array([width - w / 2 - 2, height - h / 2 - 2])
        bounced = (centre < low) | (centre > high)
        velocity[bounced] *= -1
        centre = np.clip(centre, low, high)
        boxes[t] = [centre[0] - w / 2, centre[1] - h / 2, centre[0] + w / 2, centre[1] + h / 2]
    return boxes


def write_jpeg(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 90]):
        raise OSError(f"could not write {path}")


def write_alov(
    root: Path,
    rng: np.random.Generator,
    videos_per_category: int,
    frames: int,
    annotate_every: int = 5,
    width: int = 320,
    height: int = 240,
) -> int:
    count = 0
    for category in ALOV_CATEGORIES:
        for number in range(1, videos_per_category + 1):
            video = f"{category}_video{number:05d}"
            scene = background(rng, width, height)
            texture, mask = object_texture(rng)
            boxes = object_track(rng, frames, width, height)
            lines = []
            for t in range(frames):
                frame = scene.copy()
                paste(frame, texture, mask, boxes[t])
                write_jpeg(root / "images" / category / video / f"{t + 1:08d}.jpg", frame)
                count += 1
                if t % annotate_every == 0:
                    x1, y1, x2, y2 = boxes[t] + 1.0  # ALOV corners are 1-based
                    corners = (x1, y2, x1, y1, x2, y1, x2, y2)  # a polygon, not a box
                    lines.append(f"{t + 1} " + " ".join(f"{v:.2f}" for v in corners))
            ann = root / "gt" / category / f"{video}.ann"
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
    videos_per_category: int = 5,
    frames: int = 61,
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
    parser.add_argument("--videos_per_category", type=int, default=5)
    parser.add_argument("--frames", type=int, default=61, help="frames per ALOV video")
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
