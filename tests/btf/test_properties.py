"""Property tests (hypothesis): hostile bytes, images and model files give a valid result or btf's own error.

Never any other exception, never a pickle load.
"""

import io
import pickle
import zipfile

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import btf
from btf.images.vision import ImageError, image_to_input

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MAX_PIXELS = 512 * 512


def _valid_input(x):
    assert x.shape == (784,) and x.dtype == np.float32
    assert np.isfinite(x).all() and x.min() >= 0 and x.max() <= 1


def _image_or_clear_error(data: bytes):
    try:
        _valid_input(image_to_input(data, max_pixels=MAX_PIXELS))
    except ImageError as exc:
        assert exc.code in {"unsupported_format", "corrupt_image", "image_too_large", "no_digit"}
        assert str(exc)


@PROPERTY
@given(st.binary(max_size=4096))
def test_arbitrary_bytes(data):
    _image_or_clear_error(data)


@PROPERTY
@given(
    st.sampled_from([b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"BM", b"RIFF\x00\x00\x00\x00WEBP"]),
    st.binary(max_size=2048),
)
def test_arbitrary_bytes_behind_real_magic_numbers(magic, rest):
    _image_or_clear_error(magic + rest)


@st.composite
def images(draw):
    height = draw(st.integers(1, 300))
    width = draw(st.integers(1, min(300, MAX_PIXELS // height)))
    channels = draw(st.sampled_from([1, 3, 4]))
    shape = (height, width) if channels == 1 else (height, width, channels)
    fill = draw(st.sampled_from(["random", "constant", "stroke"]))
    if fill == "random":
        return draw(arrays(np.uint8, shape))
    img = np.full(shape, draw(st.integers(0, 255)), np.uint8)
    if fill == "stroke":
        colour = (draw(st.integers(0, 255)),) * (channels if channels > 1 else 1)
        cv2.line(img, (0, 0), (width - 1, height - 1), colour, draw(st.integers(1, 10)))
    return img


@PROPERTY
@given(images(), st.sampled_from([".png", ".jpg", ".bmp", ".webp"]), st.integers(0, 100))
def test_arbitrary_uint8_images(img, ext, cut):
    if ext in (".jpg", ".bmp") and img.ndim == 3 and img.shape[2] == 4:
        img = img[:, :, :3]
    ok, buf = cv2.imencode(ext, img)
    assert ok
    data = buf.tobytes()
    _image_or_clear_error(data)
    _image_or_clear_error(data[: len(data) * cut // 100])  # and any truncation of it


# ------------------------------------------------------------- model files
def _model_bytes():
    return btf.Graph((12, 5, 3), seed=0).to_bytes({"note": "x"})


@pytest.fixture(autouse=True)
def _no_pickle(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the checkpoint loader tried to unpickle")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)


def _load_or_clear_error(data):
    try:
        net = btf.Graph.load(data)
    except btf.CheckpointError as exc:
        assert str(exc).startswith("<checkpoint bytes>: ")
        return
    out = net.predict(np.zeros(net.sizes[0], np.float32))[1]
    assert np.isfinite(out).all()


@PROPERTY
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_as_model(data):
    _load_or_clear_error(data)


@PROPERTY
@given(st.data())
def test_mutated_model_files(data):
    blob = bytearray(_model_bytes())
    for _ in range(data.draw(st.integers(1, 8))):
        i = data.draw(st.integers(0, len(blob) - 1))
        blob[i] = data.draw(st.integers(0, 255))
    _load_or_clear_error(bytes(blob))


@PROPERTY
@given(
    st.sampled_from(["W0", "b0", "W1", "b1", "sizes", "format_version", "metadata", "activation", "epochs"]),
    arrays(
        st.sampled_from([np.float32, np.float64, np.int64, np.uint8, np.bool_, np.dtype("U3")]),
        st.tuples(st.integers(0, 13), st.integers(0, 6)) | st.tuples(st.integers(0, 13)) | st.just(()),
    ),
)
def test_entries_replaced_by_arbitrary_arrays(key, value):
    with np.load(io.BytesIO(_model_bytes()), allow_pickle=False) as npz:
        entries = {k: npz[k] for k in npz.files}
    entries[key] = value
    buf = io.BytesIO()
    np.savez(buf, **entries)
    _load_or_clear_error(buf.getvalue())


def test_object_array_entry_never_unpickles():
    with np.load(io.BytesIO(_model_bytes()), allow_pickle=False) as npz:
        entries = {k: npz[k] for k in npz.files}
    obj = np.empty(1, object)
    obj[0] = {"x": 1}
    entries["P0"] = obj  # the first parameter (format 2)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for k, v in entries.items():
            inner = io.BytesIO()
            np.lib.format.write_array(inner, v, allow_pickle=True)
            z.writestr(f"{k}.npy", inner.getvalue())
    with pytest.raises(btf.CheckpointError, match="refusing to unpickle"):
        btf.Graph.load(buf.getvalue())
