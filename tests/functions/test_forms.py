"""functions/predict/forms.py reads a multipart form as Starlette's own parser does, synchronously and within bounds.

Starlette's MultiPartParser is the oracle: for crafted and generated bodies (files and text
fields, charsets, missing names, too many parts, truncated bodies) both give the same parts,
or both refuse with the same reason.
"""

import asyncio

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from starlette.datastructures import Headers, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from functions.predict import forms
from infra.apigw import http_event
from tests.support.images import canvas_png

BOUNDARY = "b0undary"
TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def body(parts: list[tuple[bytes, bytes]], end: bool = True) -> bytes:
    """``parts`` as (headers, data) joined with BOUNDARY; the closing delimiter when ``end``."""
    out = b"".join(b"--" + BOUNDARY.encode() + b"\r\n" + h + b"\r\n\r\n" + d + b"\r\n" for h, d in parts)
    return out + (b"--" + BOUNDARY.encode() + b"--\r\n" if end else b"")


def disposition(name: bytes | None, filename: bytes | None = None) -> bytes:
    header = b"Content-Disposition: form-data"
    header += b'; name="' + name + b'"' if name is not None else b""
    return header + (b'; filename="' + filename + b'"' if filename is not None else b"")


class Crash:
    """Starlette's parser raised something other than its own refusal (the app then answered a 400 anyway)."""


def starlette(content_type: str, data: bytes, max_files: int, max_fields: int):
    """Starlette's reading of the form: [(name, bytes or str)], the message it refuses with, or Crash."""

    async def run():
        async def stream():
            yield data

        headers = Headers({"content-type": content_type})
        form = await MultiPartParser(headers, stream(), max_files=max_files, max_fields=max_fields).parse()
        return [(k, await v.read() if isinstance(v, UploadFile) else v) for k, v in form.multi_items()]

    try:
        return asyncio.run(run())
    except MultiPartException as exc:
        return exc.message
    except Exception:
        return Crash


def ours(content_type: str, data: bytes, max_files: int, max_fields: int):
    try:
        return [(p.name, p.value) for p in forms.parse(content_type, data, max_files=max_files, max_fields=max_fields)]
    except forms.FormError as exc:
        return str(exc)


CASES = {
    "file and fields": body(
        [(disposition(b"image", b"d.png"), b"\x89PNG\r\n--not-a-boundary"), (disposition(b"model"), b"3")]
    ),
    "two files": body([(disposition(b"image", b"a.png"), b"a"), (disposition(b"image", b"b.png"), b"b")]),
    "no name": body([(disposition(None), b"x")]),
    "no disposition": body([(b"Content-Type: text/plain", b"x")]),
    "too many files": body([(disposition(b"image", b"%d" % i), b"x") for i in range(3)]),
    "too many fields": body([(disposition(b"f%d" % i), b"x") for i in range(3)]),
    "a field over 1 MiB": body([(disposition(b"image"), b"A" * ((1 << 20) + 1))]),
    "a file over 1 MiB": body([(disposition(b"image", b"big.png"), b"A" * ((1 << 20) + 1))]),
    "latin-1 name": body([(disposition("é".encode("latin-1")), "é".encode("latin-1"))]),
    "utf-8 name": body([(disposition("é".encode()), "é".encode())]),
    "truncated": body([(disposition(b"image", b"d.png"), b"x" * 100)])[:-30],
    "garbage": b"--x\r\ngarbage",
    "empty": b"",
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize(
    "content_type", [TYPE, TYPE + "; charset=latin-1", TYPE + "; charset=no-such-codec", "multipart/form-data"]
)
def test_crafted_bodies_read_as_starlette_reads_them(name, content_type):
    assert ours(content_type, CASES[name], 2, 2) == starlette(content_type, CASES[name], 2, 2)


_NAMES = st.sampled_from([b"image", b"model", b"explain", b"x", "é".encode(), "ü".encode("latin-1")])
_PART = st.tuples(_NAMES, st.one_of(st.none(), st.sampled_from([b"a.png", b""])), st.binary(max_size=40))


@given(
    parts=st.lists(_PART, max_size=5),
    cut=st.one_of(st.none(), st.integers(0, 400)),
    limits=st.tuples(st.integers(0, 3), st.integers(0, 3)),
)
@example(parts=[(b"image", b"a.png", b"\r\n--b0undary")], cut=None, limits=(1, 1))
@example(parts=[(b"image", None, b"x")], cut=None, limits=(1, 0))
def test_generated_forms_read_as_starlette_reads_them(parts, cut, limits):
    data = body([(disposition(name, filename), value) for name, filename, value in parts])
    data = data if cut is None else data[:cut]
    assert ours(TYPE, data, *limits) == starlette(TYPE, data, *limits)


def test_a_form_is_read_without_an_event_loop():
    """It runs on a worker thread, as the rest of a request's parsing does: nothing in it awaits."""
    data = CASES["file and fields"]
    assert forms.parse(TYPE, data, max_files=1, max_fields=1) == [
        forms.Part("image", b"\x89PNG\r\n--not-a-boundary"),
        forms.Part("model", "3"),
    ]


@given(params=st.text(alphabet=st.characters(max_codepoint=255), max_size=80), data=st.binary(max_size=200))
@example(params="boundary=", data=b"--\r\n")
@example(params='boundary="a"; charset="\x00"', data=b"--a--\r\n")
def test_any_content_type_parameters_read_as_starlette_reads_them(params, data):
    content_type = "multipart/form-data; " + params  # a header is Latin-1 text, whatever the client sent
    expected = starlette(content_type, data, 2, 2)
    got = ours(content_type, data, 2, 2)  # never raises anything but FormError, which ours() returns
    if expected is not Crash:  # where Starlette's crashed (a NUL in the charset), ours reads the form as Latin-1
        assert got == expected


@pytest.mark.parametrize(
    "params",
    ["boundary=", 'boundary="', "boundary=" + "x" * 5000, f'boundary={BOUNDARY}; charset="\x00"', "charset=utf-8"],
)
def test_odd_multipart_headers_through_the_app_are_never_a_500(api, params):
    form = body([(disposition(b"image", b"d.png"), canvas_png())])
    event = http_event("POST", "/predict", body=form, content_type="multipart/form-data; " + params)
    status, headers, answer = api.invoke(event)
    assert status in (200, 400) and headers["content-type"] == "application/json", answer
