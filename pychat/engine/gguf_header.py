"""Reading a GGUF header without trusting it.

A GGUF file starts with counts (key/values, tensors) and sizes (strings, arrays, tensor
shapes) that a damaged or crafted file can set to anything. Every count and size is checked
against what is left of the file before it is used, nothing is allocated in proportion to
a claim, only the strings PyChat shows are kept (and cut at 64 KiB), and reading one header
has a time budget. Problems raise ``HeaderError`` with a reason a user can read.
"""

from __future__ import annotations

import mmap
import re
import struct
import time
from dataclasses import dataclass, field
from typing import Any

MAX_KV = 65_536
"""Key/value pairs a header may declare (real models have a few dozen)."""
MAX_TENSORS = 1_048_576
MAX_DIMS = 8
MAX_DIM = 1 << 40
"""Largest size of one tensor dimension taken as real."""
MAX_KEPT_STRING = 65_536
TIME_BUDGET = 2.0
"""Seconds one header may take to read (a real one takes milliseconds)."""
MIN_KV_BYTES = 8 + 4 + 1  # an empty key, its type, a one-byte value
MIN_TENSOR_BYTES = 8 + 4 + 4 + 8  # an empty name, no dimensions, the type, the offset
HEADER_START = 24  # magic, version, tensor count, key/value count
MAX_ARRAY_DEPTH = 2

_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
            10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
_COUNTED_ARRAYS = {"tokenizer.ggml.tokens"}
"""Arrays whose length we keep (the vocabulary size); their items are skipped."""
_BLOCK = re.compile(r"^blk\.(\d+)\.")


class HeaderError(ValueError):
    """The header cannot be read or does not describe a real file; ``str`` says why."""


@dataclass
class Header:
    """What PyChat needs from a header: kept key/values and the tensors' sizes."""

    version: int
    kv: dict[str, Any]
    """Scalars, the strings in ``keep_strings`` (cut at 64 KiB), array lengths, and for any
    other string just ``True`` (it is there)."""
    n_tensors: int = 0
    n_params: int = 0
    block_bytes: dict[int, int] = field(default_factory=dict)
    output_norm_bytes: int = 0
    output_bytes: int = 0
    embd_bytes: int = 0
    tensors_end: int = 0
    """Where the tensor descriptions end (the data starts at the next alignment)."""
    data_bytes: int = 0
    """How far the tensor data reaches beyond its start (largest offset + size)."""


class _Reader:
    """Little-endian reads over a memory map that never run past its end."""

    def __init__(self, buf: mmap.mmap | bytes, deadline: float) -> None:
        self.buf, self.pos, self.deadline = buf, 0, deadline

    @property
    def left(self) -> int:
        return len(self.buf) - self.pos

    def need(self, size: int) -> None:
        if size > self.left:
            raise HeaderError(f"the header runs past the end of the file (at byte {self.pos})")

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise HeaderError(f"the header takes more than {TIME_BUDGET:g} s to read")

    def scalar(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        self.need(size)
        value = struct.unpack_from(fmt, self.buf, self.pos)[0]
        self.pos += size
        return value

    def string(self, keep: bool) -> str | None:
        size = self.scalar("<Q")
        self.need(size)
        text = None
        if keep:
            end = self.pos + min(size, MAX_KEPT_STRING)
            text = bytes(self.buf[self.pos:end]).decode("utf-8", errors="replace")
        self.pos += size
        return text

    def value(self, kind: int, keep: bool, depth: int = 0) -> Any:
        if kind in _SCALARS:
            return self.scalar(_SCALARS[kind])
        if kind == _STRING:
            text = self.string(keep)
            return text if keep else True
        if kind == _ARRAY:
            return self.array(depth)
        raise HeaderError(f"unknown value type {kind} at byte {self.pos}")

    def array(self, depth: int) -> int:
        """Skip an array; return its length."""
        item_kind, count = self.scalar("<I"), self.scalar("<Q")
        if item_kind in _SCALARS:  # fixed size: check it fits, then jump over it
            size = count * struct.calcsize(_SCALARS[item_kind])
            self.need(size)
            self.pos += size
            return int(count)
        if item_kind == _STRING:
            self.need(count * 8)  # each string takes 8 bytes at least
            for number in range(count):
                if number % 4096 == 0:
                    self.check_time()
                self.string(keep=False)
            return int(count)
        if item_kind == _ARRAY and depth < MAX_ARRAY_DEPTH:
            self.need(count * 12)
            for _ in range(count):
                self.check_time()
                self.array(depth + 1)
            return int(count)
        raise HeaderError(f"unsupported array of type {item_kind} at byte {self.pos}")


def parse_header(buf: mmap.mmap | bytes, keep_strings: set[str],
                 quant_sizes: dict[int, tuple[int, int]]) -> Header:
    """Parse the header in ``buf``; ``quant_sizes`` maps a ggml type to (block size, bytes
    per block). Raises HeaderError."""
    reader = _Reader(buf, time.monotonic() + TIME_BUDGET)
    if bytes(buf[:4]) != b"GGUF":
        raise HeaderError("missing GGUF signature")
    reader.pos = 4
    version = reader.scalar("<I")
    if version not in (2, 3):
        raise HeaderError(f"GGUF version {version} is not supported (2 and 3 are)")
    n_tensors, n_kv = reader.scalar("<Q"), reader.scalar("<Q")
    room = len(buf) - HEADER_START
    if n_kv > min(MAX_KV, room // MIN_KV_BYTES):
        raise HeaderError(f"the header claims {n_kv} key/values, more than the file can hold")
    if n_tensors > min(MAX_TENSORS, room // MIN_TENSOR_BYTES):
        raise HeaderError(f"the header claims {n_tensors} tensors, more than the file can hold")
    kv: dict[str, Any] = {}
    for _ in range(n_kv):
        reader.check_time()
        key = reader.string(keep=True) or ""
        kind = reader.scalar("<I")
        value = reader.value(kind, keep=key in keep_strings)
        if kind != _ARRAY or key in _COUNTED_ARRAYS:
            kv[key] = value
    header = Header(version, kv, n_tensors)
    for _ in range(n_tensors):
        reader.check_time()
        _read_tensor(reader, header, quant_sizes)
    header.tensors_end = reader.pos
    return header


def _read_tensor(reader: _Reader, header: Header,
                 quant_sizes: dict[int, tuple[int, int]]) -> None:
    name = reader.string(keep=True) or ""
    n_dims = reader.scalar("<I")
    if n_dims > MAX_DIMS:
        raise HeaderError(f"tensor {name[:80]!r} has {n_dims} dimensions")
    elements = 1
    for _ in range(n_dims):
        size = reader.scalar("<Q")
        if size > MAX_DIM:
            raise HeaderError(f"tensor {name[:80]!r} has a dimension of {size}")
        elements *= size
    ggml_type, offset = reader.scalar("<I"), reader.scalar("<Q")
    if ggml_type not in quant_sizes:
        raise HeaderError(f"tensor {name[:80]!r} has unknown type {ggml_type}")
    block_size, type_size = quant_sizes[ggml_type]
    nbytes = -(-elements // block_size) * type_size
    header.n_params += elements
    header.data_bytes = max(header.data_bytes, offset + nbytes)
    block = _BLOCK.match(name)
    if block:
        number = int(block.group(1))
        header.block_bytes[number] = header.block_bytes.get(number, 0) + nbytes
    elif name.startswith("output_norm"):
        header.output_norm_bytes += nbytes
    elif name.startswith("output."):
        header.output_bytes += nbytes
    elif name.startswith("token_embd."):
        header.embd_bytes += nbytes
