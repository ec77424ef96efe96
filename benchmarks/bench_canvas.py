"""The handler's own preprocessing and predict, against a minimal decode-resize-predict pipeline, for a canvas PNG.

    .venv/bin/python -m benchmarks.bench_canvas [--model models/model-v7.npz] [--blocks 20] [--calls 50]

The image is the 280x280 canvas PNG of the predict function's events (black ink on
transparent pixels, as a browser's ``toDataURL()`` sends it). Timed in one process, one thread
each for OpenBLAS and OpenCV (as the function runs), taking turns in blocks of ``--calls``
calls so that other work on a shared machine hits both alike; medians over the blocks of the
time per call, CPU (``time.process_time``) and wall:

- btf: ``image_to_input`` (header and budget check, decode, the working canvas with its
  transparency composited, ink, specks, stroke width, crop, scale, centring) then
  ``btf.digits.read``, as the handler calls them;
- minimal: ``cv2.imdecode``, the alpha plane as the ink, ``cv2.resize`` to 28x28
  (area), scaled to [0, 1], then the same ``btf.digits.read``. It reads this canvas and
  nothing else: no other canvas style, photo or bound. The floor, not an alternative.

Then where btf's time goes, step by step (CPU time per call, each step timed on its own input).
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

import btf  # noqa: E402
from benchmarks.bench_infer import timed  # noqa: E402
from benchmarks.common import model_arguments  # noqa: E402
from btf import digits  # noqa: E402
from btf.images import imagefile, vision  # noqa: E402
from scripts.make_events import canvas_seven  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def minimal(graph: btf.Graph, png: bytes) -> digits.Reading:
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    x = cv2.resize(image[:, :, 3], (28, 28), interpolation=cv2.INTER_AREA).astype(np.float32)
    x *= np.float32(1 / 255)
    return digits.read(graph, x.reshape(1, 784))


def handler_steps(graph: btf.Graph, png: bytes) -> dict[str, object]:
    """Each step of the handler's preprocessing and predict, as a call on its own (already computed) input."""
    header, image = imagefile.decode(png)
    gray = imagefile.working_gray(header, image, png)
    ink, otsu = vision.ink_layer(gray)
    box = vision._ink_box(ink, otsu)
    x = vision.image_to_input(png)[None]
    return {
        "header, budget and decode": lambda: imagefile.decode(png),
        "working canvas (reduce, composite)": lambda: imagefile.working_gray(header, image, png),
        "ink layer (invert, background, Otsu)": lambda: vision.ink_layer(gray),
        "ink box (connected components)": lambda: vision._ink_box(ink, otsu),
        "stroke width": lambda: vision._normalise_stroke(ink, otsu, box),
        "to_input, all of it": lambda: vision.to_input(gray),
        "digits.read (predict, calibrate)": lambda: digits.read(graph, x),
    }


def main(argv: list[str] | None = None) -> None:
    args = model_arguments(__doc__, 50, argv)
    cv2.setNumThreads(1)  # as the function runs
    graph, png = btf.Graph.load(args.model), canvas_seven()
    ours = digits.read(graph, vision.image_to_input(png)[None])
    floor = minimal(graph, png)
    print(f"280x280 canvas PNG ({len(png)} bytes), {Path(args.model).name}; both read {ours.labels[0]}"
          f" (floor: {floor.labels[0]}); one thread each (OpenBLAS, OpenCV)")  # fmt: skip
    results = timed(
        {
            "btf": lambda: digits.read(graph, vision.image_to_input(png)[None]),
            "minimal": lambda: minimal(graph, png),
        },
        args.blocks,
        args.calls,
    )
    print(f"per call, median of {args.blocks} interleaved blocks of {args.calls} calls:   CPU ms   wall ms")
    for name, label in (("btf", "handler's preprocessing + predict"), ("minimal", "minimal decode-resize-predict")):
        print(f"  {label:48} {results[name][0] * 1e3:7.3f}  {results[name][1] * 1e3:8.3f}")
    cpu, wall = (results["btf"][i] / results["minimal"][i] for i in (0, 1))
    print(f"  btf / minimal: {cpu:.2f}x CPU, {wall:.2f}x wall (target <= 1.5x)")
    steps = timed(handler_steps(graph, png), max(3, args.blocks // 4), args.calls)
    print("where btf's time goes (CPU ms per call, each step on its own):")
    for name, (step_cpu, _) in steps.items():
        print(f"  {name:48} {step_cpu * 1e3:7.3f}")


if __name__ == "__main__":
    main()
