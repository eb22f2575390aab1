"""Trusted-side readers of the files that the tuning drivers send back as bytes.

A student's `save_checkpoint` and `log_metrics` write files in the kernel; the drivers send
those files back, as bytes, and they are read *here*, by plain Python and NumPy, with every
length and offset checked against the bytes at hand: no TensorFlow parser (C++) ever reads
bytes that a submission wrote, and a reader never allocates more than the bytes it was given.

* TensorFlow checkpoints ("tensor bundles"): ``<prefix>.index`` is a LevelDB-format table
  mapping each saved tensor's name to a ``BundleEntryProto`` (dtype, shape, shard, offset,
  size, masked CRC-32C), ``<prefix>.data-SSSSS-of-NNNNN`` holds the tensors' raw bytes.
  `read_checkpoint` gives the numeric tensors as arrays; `patch_checkpoint` rewrites some
  of them in place (same dtype and shape), fixing the checksums, so that the checks can hand
  a checkpoint holding values that the kernel has never seen back to `restore_checkpoint`.
* TensorBoard event files: TFRecords of ``Event`` protos; `read_scalars` gives the
  (tag, step, value) of every scalar summary.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

Files = dict  # relative POSIX path (str) -> bytes


class FormatError(ValueError):
    """The bytes are not (what this reader understands of) the format."""


# ------------------------------------------------------------------ CRC-32C (Castagnoli)


def _crc_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC = _crc_table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    table = _CRC
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    crc = crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


# ------------------------------------------------------------------ protobuf wire format


def _varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    value = shift = 0
    for _ in range(10):
        if pos >= end:
            raise FormatError("truncated varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    raise FormatError("varint too long")


def _fields(buf: bytes, start: int = 0, end: int | None = None):
    """(field number, wire type, value, position of the value) of a serialized message;
    length-delimited values as (start, end) into `buf`."""
    end = len(buf) if end is None else end
    pos = start
    while pos < end:
        tag, pos = _varint(buf, pos, end)
        number, wire = tag >> 3, tag & 7
        at = pos
        if wire == 0:
            value, pos = _varint(buf, pos, end)
        elif wire == 1:
            if pos + 8 > end:
                raise FormatError("truncated fixed64")
            value, pos = struct.unpack_from("<Q", buf, pos)[0], pos + 8
        elif wire == 2:
            length, pos = _varint(buf, pos, end)
            if pos + length > end:
                raise FormatError("truncated length-delimited field")
            value, pos = (pos, pos + length), pos + length
        elif wire == 5:
            if pos + 4 > end:
                raise FormatError("truncated fixed32")
            value, pos = struct.unpack_from("<I", buf, pos)[0], pos + 4
        else:
            raise FormatError(f"wire type {wire}")
        yield number, wire, value, at


def _signed64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


# ------------------------------------------------------------------ tensor bundles

#: TensorFlow DataType enum -> NumPy dtype (the numeric types a checkpoint of Keras objects holds).
DTYPES = {1: "<f4", 2: "<f8", 3: "<i4", 4: "u1", 5: "<i2", 6: "i1", 9: "<i8", 10: "?", 17: "<u2",
          19: "<f2", 22: "<u4", 23: "<u8"}
_TABLE_MAGIC = 0xDB4775248B80FB57


@dataclass
class _Entry:
    dtype: int
    shape: tuple
    shard: int
    offset: int
    size: int
    crc_at: int | None  # position of the fixed32 crc32c value in the .index bytes
    block: tuple  # (offset, size) of the index-table block holding the entry


@dataclass
class Checkpoint:
    """A checkpoint read from bytes: `tensors` maps each numeric tensor's name to its value."""

    prefix: str
    index_name: str
    data_names: list
    tensors: dict = field(default_factory=dict)
    _entries: dict = field(default_factory=dict, repr=False)


def _block(buf: bytes, offset: int, size: int) -> None:
    if offset < 0 or size < 0 or offset + size + 5 > len(buf):
        raise FormatError("a table block lies outside the file")
    if buf[offset + size] != 0:
        raise FormatError("a compressed table block (this reader takes uncompressed ones)")
    stored = struct.unpack_from("<I", buf, offset + size + 1)[0]
    if stored != masked_crc32c(buf[offset : offset + size + 1]):
        raise FormatError("a table block's checksum does not match")


def _block_entries(buf: bytes, offset: int, size: int):
    """(key, value start, value end) of the entries of a table block (absolute positions)."""
    _block(buf, offset, size)
    end = offset + size
    if size < 4:
        raise FormatError("a table block is too short")
    restarts = struct.unpack_from("<I", buf, end - 4)[0]
    limit = end - 4 - 4 * restarts
    if limit < offset:
        raise FormatError("a table block's restart array is too long")
    pos, key = offset, b""
    while pos < limit:
        shared, pos = _varint(buf, pos, limit)
        unshared, pos = _varint(buf, pos, limit)
        length, pos = _varint(buf, pos, limit)
        if shared > len(key) or pos + unshared + length > limit:
            raise FormatError("a table entry lies outside its block")
        key = key[:shared] + buf[pos : pos + unshared]
        pos += unshared
        yield key, pos, pos + length
        pos += length


def _handle(buf: bytes, start: int, end: int) -> tuple[int, int]:
    offset, pos = _varint(buf, start, end)
    size, _ = _varint(buf, pos, end)
    return offset, size


def _table(buf: bytes):
    """(key, value start, value end, block) of every entry of a LevelDB-format table."""
    if len(buf) < 48 or struct.unpack_from("<Q", buf, len(buf) - 8)[0] != _TABLE_MAGIC:
        raise FormatError("not a table (no footer)")
    footer = len(buf) - 48
    _, pos = _varint(buf, footer, footer + 40)  # the metaindex handle: offset,
    _, pos = _varint(buf, pos, footer + 40)  # size
    index = _handle(buf, pos, footer + 40)
    for _, start, end in _block_entries(buf, *index):
        block = _handle(buf, start, end)
        for key, value_start, value_end in _block_entries(buf, *block):
            yield key, value_start, value_end, block


def _shape(buf: bytes, start: int, end: int) -> tuple:
    dims = []
    for number, wire, value, _ in _fields(buf, start, end):
        if number == 2 and wire == 2:
            size = 0
            for n, w, v, _ in _fields(buf, *value):
                if n == 1 and w == 0:
                    size = _signed64(v)
            dims.append(size)
        elif number == 3 and wire == 0 and value:
            raise FormatError("a tensor of unknown rank")
    if any(d < 0 for d in dims):
        raise FormatError("a tensor of unknown shape")
    return tuple(dims)


def checkpoint_prefixes(files: Files) -> list[str]:
    """The prefixes of the checkpoints among `files` (their `.index` files' names, less `.index`)."""
    return sorted(name[: -len(".index")] for name in files if name.endswith(".index"))


def read_checkpoint(files: Files, prefix: str) -> Checkpoint:
    """The numeric tensors of checkpoint `prefix` (a key of `files` less ".index")."""
    index_name = prefix + ".index"
    if index_name not in files:
        raise FormatError(f"no file {index_name}")
    buf = files[index_name]
    entries, shards = {}, 1
    for key, start, end, block in _table(buf):
        if key == b"":  # the BundleHeaderProto
            for number, wire, value, _ in _fields(buf, start, end):
                if number == 1 and wire == 0:
                    shards = value
                elif number == 2 and wire == 0 and value != 0:
                    raise FormatError("a big-endian checkpoint")
            continue
        dtype, shape, shard, offset, size, crc_at, sliced = 0, (), 0, 0, 0, None, False
        for number, wire, value, at in _fields(buf, start, end):
            if number == 1 and wire == 0:
                dtype = value
            elif number == 2 and wire == 2:
                shape = _shape(buf, *value)
            elif number == 3 and wire == 0:
                shard = value
            elif number == 4 and wire == 0:
                offset = _signed64(value)
            elif number == 5 and wire == 0:
                size = _signed64(value)
            elif number == 6 and wire == 5:
                crc_at = at
            elif number == 7:
                sliced = True
        if not sliced:
            entries[key.decode(errors="replace")] = _Entry(dtype, shape, shard, offset, size, crc_at, block)
    if not 1 <= shards <= 64:
        raise FormatError(f"a checkpoint in {shards} shards")
    data_names = [f"{prefix}.data-{k:05d}-of-{shards:05d}" for k in range(shards)]
    checkpoint = Checkpoint(prefix, index_name, data_names)
    for name, entry in entries.items():
        if entry.dtype not in DTYPES or not 0 <= entry.shard < shards:
            continue
        data = files.get(data_names[entry.shard])
        dtype = np.dtype(DTYPES[entry.dtype])
        count = 1
        for d in entry.shape:
            count *= d
        if data is None or entry.size != count * dtype.itemsize or entry.offset < 0 \
                or entry.offset + entry.size > len(data):
            continue
        value = np.frombuffer(data, dtype, count, entry.offset).reshape(entry.shape).copy()
        checkpoint.tensors[name] = value
        checkpoint._entries[name] = entry
    return checkpoint


def patch_checkpoint(files: Files, checkpoint: Checkpoint, values: dict) -> Files:
    """A copy of `files` in which the tensors `values` (name -> array, of the saved dtype and
    shape) replace the saved ones, checksums fixed: a checkpoint TensorFlow restores."""
    index = bytearray(files[checkpoint.index_name])
    data = {name: bytearray(files[name]) for name in checkpoint.data_names if name in files}
    blocks = set()
    for name, value in values.items():
        entry = checkpoint._entries[name]
        raw = np.ascontiguousarray(value, DTYPES[entry.dtype]).tobytes()
        if np.shape(value) != entry.shape or len(raw) != entry.size or entry.crc_at is None:
            raise FormatError(f"cannot replace {name}")
        shard = data[checkpoint.data_names[entry.shard]]
        shard[entry.offset : entry.offset + entry.size] = raw
        struct.pack_into("<I", index, entry.crc_at, masked_crc32c(raw))
        blocks.add(entry.block)
    for offset, size in blocks:
        struct.pack_into("<I", index, offset + size + 1, masked_crc32c(bytes(index[offset : offset + size + 1])))
    patched = dict(files)
    patched[checkpoint.index_name] = bytes(index)
    patched.update({name: bytes(b) for name, b in data.items()})
    return patched


# ------------------------------------------------------------------ TensorBoard event files


def _records(buf: bytes):
    """The payloads of a TFRecord file (length, masked crc of the length, data, masked crc)."""
    pos = 0
    while pos < len(buf):
        if pos + 12 > len(buf):
            raise FormatError("a truncated record")
        length = struct.unpack_from("<Q", buf, pos)[0]
        if struct.unpack_from("<I", buf, pos + 8)[0] != masked_crc32c(buf[pos : pos + 8]):
            raise FormatError("a record's length checksum does not match")
        start = pos + 12
        if start + length + 4 > len(buf):
            raise FormatError("a truncated record")
        yield start, start + length
        pos = start + length + 4


def _scalar_of_tensor(buf: bytes, start: int, end: int) -> float | None:
    """The value of a TensorProto of a scalar (float, double, int), else None."""
    dtype, dims, floats, doubles, ints, content = 0, None, [], [], [], None
    for number, wire, value, _ in _fields(buf, start, end):
        if number == 1 and wire == 0:
            dtype = value
        elif number == 2 and wire == 2:
            dims = _shape(buf, *value)
        elif number == 4 and wire == 2:
            content = buf[value[0] : value[1]]
        elif number == 5 and wire == 2:
            floats += [x for (x,) in struct.iter_unpack("<f", buf[value[0] : value[1]])] \
                if (value[1] - value[0]) % 4 == 0 else []
        elif number == 5 and wire == 5:
            floats.append(struct.unpack("<f", struct.pack("<I", value))[0])
        elif number == 6 and wire == 2:
            doubles += [x for (x,) in struct.iter_unpack("<d", buf[value[0] : value[1]])] \
                if (value[1] - value[0]) % 8 == 0 else []
        elif number == 6 and wire == 1:
            doubles.append(struct.unpack("<d", struct.pack("<Q", value))[0])
        elif number == 7 and wire == 0:
            ints.append(value)
    if dims not in (None, ()):
        return None
    if content is not None and dtype in (1, 2) and len(content) == (4 if dtype == 1 else 8):
        return float(np.frombuffer(content, "<f4" if dtype == 1 else "<f8")[0])
    for values in (floats, doubles, ints):
        if len(values) == 1:
            return float(values[0])
    return None


def read_scalars(buf: bytes) -> list[tuple[str, int, float]]:
    """(tag, step, value) of every scalar summary (simple_value or a scalar tensor) in an event file."""
    found = []
    for start, end in _records(buf):
        step, summaries = 0, []
        for number, wire, value, _ in _fields(buf, start, end):
            if number == 2 and wire == 0:
                step = _signed64(value)
            elif number == 5 and wire == 2:
                summaries.append(value)
        for summary in summaries:
            for number, wire, value, _ in _fields(buf, *summary):
                if number != 1 or wire != 2:
                    continue
                tag, number_value = None, None
                for n, w, v, _ in _fields(buf, *value):
                    if n == 1 and w == 2:
                        tag = buf[v[0] : v[1]].decode(errors="replace")
                    elif n == 2 and w == 5:
                        number_value = struct.unpack("<f", struct.pack("<I", v))[0]
                    elif n == 8 and w == 2:
                        number_value = _scalar_of_tensor(buf, *v)
                if tag is not None and number_value is not None:
                    found.append((tag, step, float(number_value)))
    return found
