"""How well a model reads digits drawn unlike MNIST: the t10k digits re-drawn as canvas strokes.

    python -m scripts.eval_robustness [--model models/model-v4.npz] [--data ../shared/data/mnist] [-n 1000]

Each test digit is upscaled to a 280x280 canvas (black ink on transparent, as a browser
draws it) with its strokes thinned or thickened, then sent through the same image pipeline
as the API (btf.vision). Prints the accuracy for each stroke style.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

import btf
from btf.data import load
from btf.vision import ImageError, image_to_input

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


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(ROOT / "models" / "model-v4.npz"))
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "mnist"))
    p.add_argument("-n", type=int, default=1000)
    args = p.parse_args(argv)
    X, y = load(args.data)["test"]
    X, y = X[: args.n], y[: args.n]
    net = btf.Graph.load(args.model)
    print(f"model {args.model}, {len(y)} t10k digits")
    for name, change in STYLES.items():
        inputs, refused = [], 0
        for image in X:
            try:
                inputs.append(image_to_input(render(image, change)))
            except ImageError:
                inputs.append(np.zeros(784, np.float32))
                refused += 1
        labels, _ = net.predict(np.array(inputs))
        print(f"  {name:<22} accuracy {np.mean(labels == y):6.2%}   refused {refused}")


if __name__ == "__main__":
    main()
