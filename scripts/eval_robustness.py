"""How well models read digits unlike MNIST's, and how they turn away drawings that are not digits.

    python -m scripts.eval_robustness [--model models/model-v7.npz --model ...] [--data ../shared/data/mnist] [-n 1000]

Every image goes through the same pipeline as the API (btf.images.vision), as an encoded PNG:

- the t10k digits upscaled to a 280x280 canvas (black ink on transparent, as a browser draws
  it), with their strokes thinned or thickened;
- scikit-learn's ``load_digits`` (1,797 digits by 43 writers outside MNIST, 8x8), upscaled as
  dark ink on white paper (needs ``pip install scikit-learn``; skipped without it);
- digits rendered in OpenCV's Hershey fonts and in TrueType fonts: thin, thick, slanted and off-centre;
- non-digits (btf.digits.negatives, held-out styles and a seed of their own): scribbles, shapes,
  letters and symbols in stroke and TrueType fonts, and Fashion-MNIST clothing when installed.

Every answer is read the way the API reads it (btf.digits.read). For each digit set it prints
each model's accuracy (closest digit right), the share of digits wrongly flagged "not a
digit", and the calibration error (ECE, 15 bins); for each non-digit set, the share flagged.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

import btf
from btf import digits
from btf.data import load
from btf.digits import calibration
from btf.images.vision import ImageError, image_to_input
from scripts.cli import promoted_shipped_model

ROOT = Path(__file__).resolve().parents[1]
# Stroke style -> morphology on the 280x280 mask (negative: erode, positive: dilate), in pixels.
STYLES = {"as MNIST (28x28 PNG)": None, "canvas": 0, "thin pen": -9, "hairline": -15, "marker": 15}


def render(image: np.ndarray, change: int | None) -> bytes:
    gray = (image.reshape(28, 28) * 255).astype(np.uint8)
    if change is None:
        return cv2.imencode(".png", gray)[1].tobytes()
    mask = (cv2.resize(gray, (280, 280), interpolation=cv2.INTER_CUBIC) > 100).astype(np.uint8) * 255
    if change:
        kernel = np.ones((abs(change), abs(change)), np.uint8)
        mask = cv2.dilate(mask, kernel) if change > 0 else cv2.erode(mask, kernel)
    canvas = np.zeros((280, 280, 4), np.uint8)
    canvas[:, :, 3] = mask
    return cv2.imencode(".png", canvas)[1].tobytes()


def boxed(image: np.ndarray, side: int = 16) -> bytes:
    """A digit as some scanned data sets keep them: stretched to fill a side x side box, then black or white.

    Stretching changes its aspect (a 1 becomes a bar as wide as it is tall) and binarising
    its stroke edges; shown 10x larger, dark ink on white paper.
    """
    gray = (image.reshape(28, 28) * 255).astype(np.uint8)
    ys, xs = np.nonzero(gray > 30)
    crop = gray[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    small = cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA) > 90
    big = cv2.resize(np.where(small, 0, 255).astype(np.uint8), (side * 10, side * 10), interpolation=cv2.INTER_NEAREST)
    return cv2.imencode(".png", np.pad(big, 24, constant_values=255))[1].tobytes()


def sklearn_digits() -> tuple[list[bytes], np.ndarray] | None:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        return None
    digits = load_digits()
    images = []
    for image in digits.images:
        gray = (255 - image * 255 / 16).astype(np.uint8)  # dark ink on white paper
        big = cv2.resize(gray, (96, 96), interpolation=cv2.INTER_CUBIC)
        images.append(cv2.imencode(".png", np.pad(big, 16, constant_values=255))[1].tobytes())
    return images, digits.target


def font_digits() -> tuple[list[bytes], np.ndarray]:
    """Each digit in each Hershey font, thin and thick, upright and slanted, centred and off-centre."""
    fonts = [cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_TRIPLEX]
    fonts += [cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, cv2.FONT_HERSHEY_SIMPLEX | cv2.FONT_ITALIC]
    images, labels = [], []
    for digit in range(10):
        for font in fonts:
            for thickness in (3, 8, 16):
                for slant, (dx, dy) in ((0.0, (0, 0)), (0.25, (0, 0)), (0.0, (-50, 30)), (-0.2, (40, -40))):
                    canvas = np.full((280, 280), 255, np.uint8)
                    cv2.putText(canvas, str(digit), (85 + dx, 200 + dy), font, 5, 0, thickness, cv2.LINE_AA)
                    shear = np.float32([[1, -slant, slant * 140], [0, 1, 0]])
                    canvas = cv2.warpAffine(canvas, shear, (280, 280), borderValue=255)
                    images.append(cv2.imencode(".png", canvas)[1].tobytes())
                    labels.append(digit)
    return images, np.array(labels)


def ttf_digits() -> tuple[list[bytes], np.ndarray]:
    """Each digit in every DejaVu and Liberation font installed, at two stroke widths, upright and rotated."""
    from PIL import Image, ImageDraw, ImageFont

    files = sorted(Path("/usr/share/fonts/truetype").glob("*/*.ttf"))
    images, labels = [], []
    for path in files:
        font = ImageFont.truetype(str(path), 190)
        for digit in range(10):
            for stroke, angle in ((0, 0), (4, 0), (0, 12), (2, -10)):
                image = Image.new("L", (280, 280), 255)
                draw = ImageDraw.Draw(image)
                left, top, right, bottom = draw.textbbox((0, 0), str(digit), font=font)
                at = ((280 - (right - left)) / 2 - left, (280 - (bottom - top)) / 2 - top)
                draw.text(at, str(digit), fill=0, font=font, stroke_width=stroke, stroke_fill=0)
                image = image.rotate(angle, fillcolor=255)
                images.append(cv2.imencode(".png", np.asarray(image))[1].tobytes())
                labels.append(digit)
    return images, np.array(labels)


def non_digit_sets(n: int) -> dict[str, list[bytes]]:
    """Held-out non-digits by kind, from a seed neither training nor the gate uses."""
    from btf.digits import negatives

    sets: dict[str, list[bytes]] = {}
    for kind, png in negatives.render(n, seed=4242, split="heldout", kinds=negatives.KINDS[:4] + ("fashion",)):
        sets.setdefault(f"not a digit: {kind}", []).append(png)
    return sets


def _inputs(images: list[bytes]) -> tuple[np.ndarray, int]:
    inputs, refused = [], 0
    for data in images:
        try:
            inputs.append(image_to_input(data))
        except ImageError:
            inputs.append(np.zeros(784, np.float32))
            refused += 1
    return np.array(inputs), refused


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--model", action="append", help="a checkpoint; repeat to compare (default: the promoted shipped model)"
    )
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "mnist"))
    p.add_argument("-n", type=int, default=1000)
    p.add_argument("--non-digits", type=int, default=1000, help="held-out non-digits to draw (default 1000)")
    args = p.parse_args(argv)
    X, y = load(args.data)["test"]
    X, y = X[: args.n], y[: args.n]
    models = args.model or [str(promoted_shipped_model())]
    nets = [btf.Graph.load(m) for m in models]
    sets = {f"t10k {name}": ([render(image, change) for image in X], y) for name, change in STYLES.items()}
    sets["t10k stretched to a 16x16 box, binary"] = ([boxed(image) for image in X], y)
    other = sklearn_digits()
    if other is not None:
        sets["sklearn digits (43 writers)"] = other
    else:
        print("(scikit-learn is not installed: pip install scikit-learn adds its 1,797 digits by 43 writers)")
    sets["Hershey fonts, 4 styles"] = font_digits()
    sets["TrueType fonts"] = ttf_digits()
    print(f"{'digits: accuracy / flagged / ECE':34} {'n':>5} " + " ".join(f"{Path(m).name:>24}" for m in models))
    for name, (images, labels) in sets.items():
        inputs, refused = _inputs(images)
        cells = []
        for net in nets:
            reading = digits.read(net, inputs)
            right = reading.labels == labels
            ece = calibration.ece(reading.confidences.max(axis=1), right)
            cells.append(f"{right.mean():7.2%} {1 - reading.is_digit.mean():6.2%} {ece:6.2%}")
        extra = f"  ({refused} refused)" if refused else ""
        print(f"{name:34} {len(labels):5} " + " ".join(f"{c:>24}" for c in cells) + extra)
    print(f"{'non-digits: flagged':34}")
    for name, images in non_digit_sets(args.non_digits).items():
        inputs, _ = _inputs(images)
        cells = [f"{1 - digits.read(net, inputs).is_digit.mean():.2%}" for net in nets]
        print(f"{name:34} {len(images):5} " + " ".join(f"{c:>24}" for c in cells))


if __name__ == "__main__":
    main()
