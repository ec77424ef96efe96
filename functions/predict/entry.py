"""What the model cache holds for one version, how it is built from the store's bytes, and what it costs to keep.

A stored model is loaded through btf's validated, pickle-free loader and checked against the
serving contract. Anything that goes wrong doing so (a CheckpointError, a MemoryError, any
other exception) is ``Rejected`` with a short reason: a store's model can make its version
invalid, never the request a 500.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import btf
from btf.store import Blob

# Parsed JSON holds at most ~25 bytes per character of its text (measured on lists of empty
# dicts, the worst found); metadata is at most 1 MiB of text (btf.checkpoint_entries).
_METADATA_BYTES_PER_CHAR = 32


@dataclass
class Entry:
    version: int
    graph: btf.Graph
    etag: str
    checked: float
    size: int = 0  # bytes it keeps resident (resident_bytes)


class Rejected(Exception):
    """A stored model that cannot serve; the message says why, without a traceback."""


def resident_bytes(graph: btf.Graph) -> int:
    """What a loaded model keeps in memory: its float32 parameters and its metadata as Python objects.

    Nothing else: layers keep no buffers of their last batch, and a forward pass's working
    memory is bounded per call (btf.footprint.WORK_BYTES), not held.
    """
    return graph.footprint.parameter_bytes + _METADATA_BYTES_PER_CHAR * len(json.dumps(graph.metadata))


def build(
    version: int,
    blob: Blob,
    load: Callable[[bytes], btf.Graph],
    validate: Callable[[btf.Graph], None],
    now: float,
) -> Entry:
    """Version ``version``'s ``blob`` loaded, validated and priced, as an Entry checked at ``now``; raises Rejected."""
    try:
        graph = load(blob.data)
        validate(graph)
        size = resident_bytes(graph)
    except Exception as exc:  # a stored model's failure, whatever it is (MemoryError too): invalid, not a 500
        problem = str(exc).split(": ", 1)[-1] if isinstance(exc, btf.CheckpointError) else repr(exc)[:300]
        raise Rejected(problem) from None
    return Entry(version, graph, blob.etag, now, size)
