"""Parse a ``multipart/form-data`` body that is already in memory: synchronously, in bounded time and memory.

Starlette's form parser reads the request stream and awaits its file writes, so it runs on
the event loop; this one takes the bytes the app has already read (at most MAX_BODY_BYTES)
and runs on a worker thread with the rest of a request's parsing. It reads a form as
Starlette's does: a part whose Content-Disposition has a filename is a file (bytes), any
other a text field (decoded with the body's charset, Latin-1 when that fails); at most
``max_files`` files and ``max_fields`` fields, a text field at most 1 MiB. Files stay in
memory, since the body is bounded already: nothing is spooled to disk.
"""

from __future__ import annotations

import codecs
import logging
from typing import NamedTuple

from python_multipart.multipart import MultipartParser, parse_options_header

# Its warnings are about the malformed bodies this module answers with a JSON 400 anyway; as
# plain text on stderr they would only break the one-JSON-line-per-request log.
logging.getLogger("python_multipart").setLevel(logging.ERROR)

MAX_FIELD_BYTES = 1 << 20


class FormError(ValueError):
    """The body is not a well-formed multipart form within the bounds; the message says which."""


class Part(NamedTuple):
    name: str
    value: bytes | str  # bytes for a file, str for a text field


def parse(content_type: str, body: bytes, *, max_files: int, max_fields: int) -> list[Part]:
    """Every part of the form, in order; raises FormError."""
    _, params = parse_options_header(content_type)
    if b"boundary" not in params:
        raise FormError("Missing boundary in multipart.")
    reader = _Reader(_charset(params.get(b"charset")), max_files, max_fields)
    try:
        parser = MultipartParser(params[b"boundary"], reader.callbacks())
        parser.write(body)
        parser.finalize()
    except FormError:
        raise
    except Exception as exc:  # python-multipart raises several types for malformed bodies
        raise FormError("Invalid multipart data.") from exc
    return reader.parts


def _charset(declared: bytes | None) -> str:
    try:
        return codecs.lookup((declared or b"utf-8").decode("latin-1")).name
    except (LookupError, ValueError):  # an unknown name, or one with a NUL in it
        return "latin-1"


def _text(data: bytes, charset: str) -> str:
    try:
        return data.decode(charset)
    except UnicodeDecodeError:
        return data.decode("latin-1")


class _Reader:
    """python-multipart's callbacks: collect each part's headers, then its data, within the bounds."""

    def __init__(self, charset: str, max_files: int, max_fields: int) -> None:
        self.charset, self.max_files, self.max_fields = charset, max_files, max_fields
        self.parts: list[Part] = []
        self._headers: dict[bytes, bytes] = {}
        self._header = [b"", b""]  # the name and value of the header being read
        self._name, self._file, self._data = "", False, bytearray()
        self._files = self._fields = 0

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self._begin,
            "on_header_field": lambda data, start, end: self._add_header(0, data[start:end]),
            "on_header_value": lambda data, start, end: self._add_header(1, data[start:end]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._end,
        }

    def _begin(self) -> None:
        self._headers, self._data = {}, bytearray()

    def _add_header(self, which: int, data: bytes) -> None:
        self._header[which] += data

    def _header_end(self) -> None:
        name, value = self._header
        self._headers[name.lower()] = value
        self._header = [b"", b""]

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition"))
        if b"name" not in options:
            raise FormError('The Content-Disposition header field "name" must be provided.')
        self._name = _text(options[b"name"], self.charset)
        self._file = b"filename" in options
        if self._file:
            self._files += 1
            if self._files > self.max_files:
                raise FormError(f"Too many files. Maximum number of files is {self.max_files}.")
        else:
            self._fields += 1
            if self._fields > self.max_fields:
                raise FormError(f"Too many fields. Maximum number of fields is {self.max_fields}.")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if not self._file and len(self._data) + end - start > MAX_FIELD_BYTES:
            raise FormError(f"Part exceeded maximum size of {MAX_FIELD_BYTES // 1024}KB.")
        self._data += data[start:end]

    def _end(self) -> None:
        value = bytes(self._data) if self._file else _text(bytes(self._data), self.charset)
        self.parts.append(Part(self._name, value))
