"""How many whole numbers /read gets right: separate and touching digits, other writers, points and minus signs.

    python -m scripts.eval_numbers [--model models/model-v5.npz] [--data ../shared/data/mnist] [-n 60] [--seed 0]

Builds its own evaluation set (``scripts.numbers_data``): numbers of 2 to 6 digits, drawn
dark on white at several scales, with mixed sizes and a drifting baseline, in categories:

- MNIST t10k digits, separate; and touching (neighbours moved until their ink meets);
- Hershey-font digits (varied font, weight, slant) and procedural pen strokes (a 4 or 5 in
  two strokes, crossed 7s), as writers that are not MNIST's;
- a decimal point or a leading minus sign; specks scattered around the number.

Each image goes through ``btf.numbers.read_image`` with the model, as the /read handler
does. Prints, per category, the share of numbers read whole (sign and point included).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import btf
from btf.data import load
from btf.numbers import read_image
from btf.vision import ImageError
from scripts.numbers_data import Number, compose, font_glyph, mnist_glyph, stroke_glyph

ROOT = Path(__file__).resolve().parents[1]


def categories(X: np.ndarray, y: np.ndarray, n: int, seed: int) -> dict[str, list[Number]]:
    """``n`` numbers per category, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)

    def mnist(count: int) -> tuple[list[np.ndarray], list[int]]:
        picks = rng.integers(0, len(y), count)
        return [mnist_glyph(X[i]) for i in picks], [int(y[i]) for i in picks]

    def drawn(make: Callable) -> Callable[[int], tuple[list[np.ndarray], list[int]]]:
        def writer(count: int) -> tuple[list[np.ndarray], list[int]]:
            labels = [int(d) for d in rng.integers(0, 10, count)]
            return [make(d, rng) for d in labels], labels

        return writer

    def build(writer, **options) -> list[Number]:
        numbers = []
        for _ in range(n):
            glyphs, labels = writer(int(rng.integers(2, 7)))
            numbers.append(compose(glyphs, labels, rng, **{k: v(len(labels)) for k, v in options.items()}))
        return numbers

    fonts, strokes = drawn(font_glyph), drawn(stroke_glyph)
    return {
        "MNIST, separate": build(mnist),
        "MNIST, a touching pair": build(mnist, touching=lambda k: int(rng.integers(1, k))),
        "MNIST, all touching": build(mnist, touching=lambda _: True),
        "fonts, separate": build(fonts),
        "pen strokes, separate": build(strokes),
        "pen strokes, a touching pair": build(strokes, touching=lambda k: int(rng.integers(1, k))),
        "MNIST, decimal point": build(mnist, point=lambda k: int(rng.integers(0, k - 1))),
        "MNIST, leading minus": build(mnist, minus=lambda _: True),
        "MNIST, specks": build(mnist, specks=lambda _: int(rng.integers(3, 9))),
    }


def read(number: Number, predict) -> str:
    try:
        return read_image(number.image, predict).text
    except ImageError as exc:
        return f"<{exc.code}>"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(ROOT / "models" / "model-v5.npz"))
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "mnist"))
    p.add_argument("-n", type=int, default=60, help="numbers per category")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--show-errors", type=int, default=0, metavar="K", help="print K misreads per category")
    args = p.parse_args(argv)
    X, y = load(args.data)["test"]
    net = btf.Graph.load(args.model)
    sets = categories(X, y, args.n, args.seed)
    total = right = 0
    start = time.process_time()
    print(f"{'category':26} {'n':>5} {'read whole':>11}")
    for name, numbers in sets.items():
        answers = [read(number, net.predict) for number in numbers]
        ok = [a == number.text for a, number in zip(answers, numbers)]
        total, right = total + len(ok), right + sum(ok)
        print(f"{name:26} {len(ok):5} {np.mean(ok):11.1%}")
        misses = [(number.text, a) for a, number, good in zip(answers, numbers, ok) if not good]
        for want, got in misses[: args.show_errors]:
            print(f"    {want!r:12} read as {got!r}")
    seconds = time.process_time() - start
    print(f"{'all':26} {total:5} {right / total:11.1%}   ({seconds / total * 1000:.1f} ms CPU a number)")


if __name__ == "__main__":
    main()
