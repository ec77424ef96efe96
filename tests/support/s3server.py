"""Misbehaving S3 endpoints on 127.0.0.1: one that never answers or trickles, and a small S3 whose keys can hang.

``SilentServer`` accepts connections and then says nothing, or trickles a byte at a time.
``FakeS3`` speaks just enough of S3 over HTTP (ListObjectsV2 and GetObject, path style) for
a store to list and read, and can hang chosen keys, leave a listing entry without an ETag, or
claim a size an object does not have (so a 128 MiB object costs the test nothing), which
moto cannot do. Both count what reached them, so tests can assert that a call was never made.
"""

from __future__ import annotations

import hashlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse
from xml.sax.saxutils import escape


class SilentServer:
    """A TCP server that accepts connections and then never answers, or trickles a byte every ``every`` seconds."""

    def __init__(self, trickle: bool, every: float = 1.0):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.trickle, self.every, self.stop, self.conns = trickle, every, threading.Event(), []
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.conns.append(conn)
            if self.trickle:
                threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn):
        try:
            for byte in b"HTTP/1.1 200 OK\r\nx-a: " + b"a" * 60_000:
                if self.stop.wait(self.every):
                    return
                conn.sendall(bytes([byte]))
        except OSError:
            return

    def close(self):
        self.stop.set()
        for conn in self.conns:
            conn.close()
        self.sock.close()


class FakeS3:
    """A bucket's objects over HTTP. Keys in ``hang`` never answer; keys in ``no_etag`` are listed and served without one;
    keys in ``claimed`` are listed and served with that size (the headers say so; the body is what ``objects`` holds)."""

    def __init__(self, bucket: str = "btf-models"):
        self.bucket, self.objects, self.hang, self.no_etag = bucket, {}, set(), set()
        self.claimed: dict[str, int] = {}
        self.requests: list[str] = []  # "GET key" or "LIST prefix", in arrival order
        self.stop = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def etag(self, key: str) -> str:
        return '"' + hashlib.md5(self.objects[key]).hexdigest() + '"'  # noqa: S324 - as S3 makes them

    def listing(self, prefix: str) -> bytes:
        entries = []
        for key in sorted(k for k in self.objects if k.startswith(prefix)):
            etag = "" if key in self.no_etag else f"<ETag>{escape(self.etag(key))}</ETag>"
            entries.append(
                f"<Contents><Key>{escape(key)}</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified>"
                f"{etag}<Size>{self.claimed.get(key, len(self.objects[key]))}</Size><StorageClass>STANDARD</StorageClass></Contents>"
            )
        return (
            '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"<Name>{self.bucket}</Name><Prefix>{escape(prefix)}</Prefix><KeyCount>{len(entries)}</KeyCount>"
            f"<MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>{''.join(entries)}</ListBucketResult>"
        ).encode()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                url = urlparse(self.path)
                key = unquote(url.path.lstrip("/")).removeprefix(fake.bucket).lstrip("/")
                if not key:
                    prefix = parse_qs(url.query).get("prefix", [""])[0]
                    fake.requests.append(f"LIST {prefix}")
                    return self._send(200, fake.listing(prefix), {"Content-Type": "application/xml"})
                fake.requests.append(f"GET {key}")
                if key in fake.hang:
                    fake.stop.wait()  # until the test ends: the client must give up by itself
                    return None
                if key not in fake.objects:
                    body = b"<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>"
                    return self._send(404, body, {"Content-Type": "application/xml"})
                headers = {"Content-Type": "application/octet-stream", "Content-Length": str(len(fake.objects[key]))}
                if key in fake.claimed:
                    headers["Content-Length"] = str(fake.claimed[key])
                if key not in fake.no_etag:
                    headers["ETag"] = fake.etag(key)
                return self._send(200, fake.objects[key], headers)

            def _send(self, status, body, headers):
                self.send_response(status)
                for name, value in {"Content-Length": str(len(body)), **headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

        return Handler

    def close(self):
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()
