"""Random small affine distortions of 28x28 digits (rotation, scale, shear, shift), in numpy.

Used as ``Graph.run(epochs, augment=btf.augment.distort)``: each epoch sees a freshly
distorted copy of the training digits, which is how a dense network trained on 10k
digits gets past 97%. Limits: square images only, bilinear sampling, zero padding.
"""

from __future__ import annotations

import numpy as np


def distort(
    X: np.ndarray,
    rng: np.random.Generator,
    *,
    degrees: float = 12.0,
    scale: float = 0.12,
    shear: float = 0.15,
    shift: float = 2.5,
) -> np.ndarray:
    """A randomly distorted copy of the flattened square images X (n, side*side), float32."""
    n, pixels = X.shape
    side = int(round(np.sqrt(pixels)))
    angle = np.deg2rad(rng.uniform(-degrees, degrees, n))
    zoom = rng.uniform(1 - scale, 1 + scale, n)
    sh = rng.uniform(-shear, shear, n)
    cos, sin = np.cos(angle) / zoom, np.sin(angle) / zoom
    # Inverse map: for every output pixel, where to sample in the input.
    a, b = cos, -sin + sh * cos
    c, d = sin, cos + sh * sin
    offset = rng.uniform(-shift, shift, (2, n))
    centre = (side - 1) / 2.0
    grid = np.arange(side, dtype=np.float32) - centre
    gy, gx = np.meshgrid(grid, grid, indexing="ij")
    gx, gy = gx.ravel(), gy.ravel()
    src_x = (a[:, None] * gx + b[:, None] * gy + centre - offset[0][:, None]).astype(np.float32)
    src_y = (c[:, None] * gx + d[:, None] * gy + centre - offset[1][:, None]).astype(np.float32)
    return _bilinear(X.reshape(n, side, side), src_x, src_y)


def _bilinear(images: np.ndarray, sx: np.ndarray, sy: np.ndarray) -> np.ndarray:
    n, side, _ = images.shape
    padded = np.zeros((n, side + 2, side + 2), dtype=np.float32)
    padded[:, 1:-1, 1:-1] = images
    # Shift by one for the zero border; clip so far-off samples read the border (zero).
    sx = np.clip(sx + 1, 0, side + 0.999)
    sy = np.clip(sy + 1, 0, side + 0.999)
    x0, y0 = sx.astype(np.intp), sy.astype(np.intp)
    fx, fy = sx - x0, sy - y0
    flat = padded.reshape(n, -1)
    width = side + 2
    rows = np.arange(n)[:, None]
    base = y0 * width + x0
    top = flat[rows, base] * (1 - fx) + flat[rows, base + 1] * fx
    bottom = flat[rows, base + width] * (1 - fx) + flat[rows, base + width + 1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32)
