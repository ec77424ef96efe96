"""Random small distortions of 28x28 digits, in numpy.

``distort``: affine (rotation, scale, shear, shift). Used as ``Graph.run(epochs,
augment=btf.augment.distort)``: each epoch sees a freshly distorted copy of the training
digits, which is how a dense network trained on 10k digits gets past 97%. ``hand``: the
same, plus what differs between writers beyond a slant: aspect (a stretch along one axis),
local wobble (elastic distortion, Simard et al., 2003) and stroke width (one pixel thicker
or thinner). Limits: square images only, bilinear sampling, zero padding.
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
    stretch: float = 0.0,
    elastic: float = 0.0,
) -> np.ndarray:
    """A randomly distorted copy of the flattened square images X (n, side*side), float32.

    ``stretch`` scales one axis by up to that share more than the other; ``elastic`` is the
    largest local displacement, in pixels, of a smooth random field.
    """
    n, pixels = X.shape
    side = int(round(np.sqrt(pixels)))
    angle = np.deg2rad(rng.uniform(-degrees, degrees, n))
    zoom = rng.uniform(1 - scale, 1 + scale, n)
    sh = rng.uniform(-shear, shear, n)
    aspect = rng.uniform(1 - stretch, 1 + stretch, n) if stretch else np.ones(n)
    cos, sin = np.cos(angle) / zoom, np.sin(angle) / zoom
    # Inverse map: for every output pixel, where to sample in the input.
    a, b = cos, -sin + sh * cos
    c, d = sin, cos + sh * sin
    offset = rng.uniform(-shift, shift, (2, n))
    centre = (side - 1) / 2.0
    grid = np.arange(side, dtype=np.float32) - centre
    gy, gx = np.meshgrid(grid, grid, indexing="ij")
    gx, gy = gx.ravel(), gy.ravel()
    src_x = ((a[:, None] * gx + b[:, None] * gy) * aspect[:, None] + centre - offset[0][:, None]).astype(np.float32)
    src_y = (c[:, None] * gx + d[:, None] * gy + centre - offset[1][:, None]).astype(np.float32)
    if elastic:
        src_x += _field(rng, n, side, elastic)
        src_y += _field(rng, n, side, elastic)
    return _bilinear(X.reshape(n, side, side), src_x, src_y)


def hand(X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Affine distortion, a stretch of up to 25% along one axis, elastic wobble, and strokes a pixel thicker or thinner."""
    out = distort(X, rng, stretch=0.25, elastic=1.5)
    n, pixels = out.shape
    side = int(round(np.sqrt(pixels)))
    images = out.reshape(n, side, side)
    which = rng.integers(0, 3, n)  # a third thicker, a third thinner, a third as they are
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1)))
    # The pixel and its four neighbours: a one-pixel grey dilation or erosion.
    cross = np.stack([padded[:, 1 + dy : 1 + dy + side, 1 + dx : 1 + dx + side] for dy, dx in _CROSS])
    images[which == 1] = cross.max(axis=0)[which == 1]
    # Half an erosion: a full one wipes out MNIST's two-pixel strokes.
    images[which == 2] = 0.5 * (images[which == 2] + cross.min(axis=0)[which == 2])
    return out


_CROSS = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))


def _field(rng: np.random.Generator, n: int, side: int, alpha: float, sigma: float = 4.0) -> np.ndarray:
    """(n, side*side) smooth random displacements of at most ``alpha`` pixels: Gaussian-blurred noise."""
    taps = np.arange(side, dtype=np.float32)
    blur = np.exp(-0.5 * np.square((taps[:, None] - taps[None, :]) / np.float32(sigma)))  # a Gaussian, as a matrix
    noise = rng.uniform(-1, 1, (n, side, side)).astype(np.float32)
    smooth = blur @ noise @ blur.T
    smooth *= np.float32(alpha) / np.maximum(np.abs(smooth).max(axis=(1, 2), keepdims=True), np.float32(1e-6))
    return smooth.reshape(n, side * side)


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
