"""Trusted-side readers of the files that the tuning drivers send back as bytes.

A student's `save_checkpoint` and `log_metrics` write files in the kernel; the drivers send
those files back, as bytes, and they are read *here*, by Python, NumPy and the `protobuf`
library (made for untrusted input), with every length and offset of the framing checked
against the bytes at hand, and every checksum verified: no TensorFlow parser (C++) ever reads
bytes that a submission wrote, and a reader never allocates more than the bytes it was given.

* TensorFlow checkpoints ("tensor bundles"): ``<prefix>.index`` is a LevelDB-format table
  mapping each saved tensor's name to a ``BundleEntryProto`` (dtype, shape, shard, offset,
  size, masked CRC-32C), ``<prefix>.data-SSSSS-of-NNNNN`` holds the tensors' raw bytes.
  `read_checkpoint` gives the numeric tensors as arrays; `patch_checkpoint` rewrites some
  of them in place (same dtype and shape), fixing the checksums, so that the checks can hand
  a checkpoint holding values that the kernel has never seen back to `restore_checkpoint`.
* TensorBoard event files: TFRecords of ``Event`` protos; `read_scalars` gives the
  (tag, step, value) of every scalar summary.

The messages are decoded by `protobuf` through generated classes: TensorBoard's
(``tensorboard.compat.proto``, light) for events, TensorFlow's for ``BundleEntryProto``
(importing it imports TensorFlow, 5-7 s, once, when the first checkpoint is read; the tuning
checks import TensorFlow in this process anyway). CRC-32C is `google-crc32c`'s. The LevelDB
table of the ``.index`` file (and a string tensor's layout, for its checksum) is read by hand
below, because no maintained Python library reads one table file (LevelDB's Python bindings
open whole databases, through LevelDB's C++ code, and TensorFlow's reader is what we avoid).
"""
from __future__ import annotations

import functools
import struct
from dataclasses import dataclass, field

import google_crc32c
import numpy as np
from google.protobuf.message import DecodeError
from tensorboard.compat.proto import event_pb2, types_pb2

Files = dict  # relative POSIX path (str) -> bytes


class FormatError(ValueError):
    """The bytes are not (what this reader understands of) the format."""


def crc32c(data: bytes) -> int:
    return google_crc32c.value(bytes(data))


def _mask(crc: int) -> int:
    """TensorFlow's and LevelDB's masking of a CRC-32C (crc32c.h: Mask)."""
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    return _mask(crc32c(data))


def _parse(message_class, data: bytes, what: str):
    try:
        return message_class.FromString(bytes(data))
    except DecodeError as error:
        raise FormatError(f"{what} is not a valid protocol buffer ({error})") from None


@functools.cache
def _bundle():
    """TensorFlow's tensor_bundle_pb2 (BundleHeaderProto, BundleEntryProto); it imports TensorFlow."""
    from tensorflow.core.protobuf import tensor_bundle_pb2

    return tensor_bundle_pb2


# ------------------------------------------------------------------ LevelDB table (the .index file)

_TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER = 48  # metaindex and index block handles (varints) padded to 40 bytes, then the magic


def _varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """LevelDB's varint64 (util/coding.h; tensor bundles use it too) at `pos`, read no further than `end`."""
    value = shift = 0
    for _ in range(10):
        if pos >= end:
            raise FormatError("a truncated varint in the table")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    raise FormatError("a varint too long in the table")


def _block(buf: bytes, offset: int, size: int) -> None:
    """Check the block at (offset, size): inside the file, uncompressed, its checksum right."""
    if offset + size + 5 > len(buf):
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


def _handle(buf: bytes, start: int, end: int) -> tuple[tuple[int, int], int]:
    """A block handle (offset, size) at `start`, and the position after it."""
    offset, pos = _varint(buf, start, end)
    size, pos = _varint(buf, pos, end)
    return (offset, size), pos


def _table(buf: bytes):
    """(key, value start, value end, block) of every entry of a LevelDB-format table."""
    if len(buf) < _FOOTER or struct.unpack_from("<Q", buf, len(buf) - 8)[0] != _TABLE_MAGIC:
        raise FormatError("not a table (no footer)")
    footer, padding_end = len(buf) - _FOOTER, len(buf) - 8
    metaindex, pos = _handle(buf, footer, padding_end)
    index, pos = _handle(buf, pos, padding_end)
    if any(buf[pos:padding_end]):
        raise FormatError("the table's footer is damaged")
    _block(buf, *metaindex)  # its entries (filters) are of no use here; its checksum must hold
    for _, start, end in _block_entries(buf, *index):
        block, _ = _handle(buf, start, end)
        for key, value_start, value_end in _block_entries(buf, *block):
            yield key, value_start, value_end, block


# ------------------------------------------------------------------ tensor bundles

#: TensorFlow DataType -> NumPy dtype (the numeric types a checkpoint of Keras objects holds).
DTYPES = {types_pb2.DT_FLOAT: "<f4", types_pb2.DT_DOUBLE: "<f8", types_pb2.DT_INT32: "<i4",
          types_pb2.DT_UINT8: "u1", types_pb2.DT_INT16: "<i2", types_pb2.DT_INT8: "i1",
          types_pb2.DT_INT64: "<i8", types_pb2.DT_BOOL: "?", types_pb2.DT_UINT16: "<u2",
          types_pb2.DT_HALF: "<f2", types_pb2.DT_UINT32: "<u4", types_pb2.DT_UINT64: "<u8"}


@dataclass
class _Entry:
    dtype: int
    shape: tuple
    shard: int
    offset: int
    size: int
    proto: object  # the BundleEntryProto
    span: tuple  # (start, end) of its serialized bytes in the .index file
    block: tuple  # (offset, size) of the index-table block holding the entry


@dataclass
class Checkpoint:
    """A checkpoint read from bytes: `tensors` maps each numeric tensor's name to its value."""

    prefix: str
    index_name: str
    data_names: list
    tensors: dict = field(default_factory=dict)
    _entries: dict = field(default_factory=dict, repr=False)


def _dims(shape, name: str) -> tuple:
    if shape.unknown_rank:
        raise FormatError(f"{name}: a tensor of unknown rank")
    dims = tuple(d.size for d in shape.dim)
    if any(d < 0 for d in dims):
        raise FormatError(f"{name}: a tensor of unknown shape")
    return dims


def _string_tensor_crc(raw: bytes, count: int) -> int:
    """The masked checksum TensorFlow stores for a string tensor of `count` elements, whose bytes
    are the elements' lengths (varint64), the masked CRC-32C of those lengths (as uint32), then
    the elements; the checksum covers the lengths (as uint32), the lengths' checksum and the
    elements (tensor_bundle.cc: WriteStringTensor)."""
    pos, crc, total = 0, 0, 0
    for _ in range(count):  # at most len(raw) rounds: each varint takes a byte at least
        length, pos = _varint(raw, pos, len(raw))
        crc = google_crc32c.extend(crc, struct.pack("<I" if length <= 0xFFFFFFFF else "<Q", length))
        total += length
    if pos + 4 + total != len(raw):
        raise FormatError("a string tensor's lengths do not add up to its size")
    if struct.unpack_from("<I", raw, pos)[0] != _mask(crc):
        raise FormatError("a string tensor's lengths checksum does not match")
    return _mask(google_crc32c.extend(crc, bytes(raw[pos:])))


def checkpoint_prefixes(files: Files) -> list[str]:
    """The prefixes of the checkpoints among `files` (their `.index` files' names, less `.index`)."""
    return sorted(name[: -len(".index")] for name in files if name.endswith(".index"))


def read_checkpoint(files: Files, prefix: str) -> Checkpoint:
    """The numeric tensors of checkpoint `prefix` (a key of `files` less ".index").

    Every tensor's bytes must lie in its shard and match its checksum, as TensorFlow's
    reader requires; string tensors (the object graph) are checked, not given; tensors of other
    types (none in a checkpoint of Keras objects) are left out.
    """
    bundle = _bundle()
    index_name = prefix + ".index"
    if index_name not in files:
        raise FormatError(f"no file {index_name}")
    buf = files[index_name]
    entries, shards = {}, 1
    for key, start, end, block in _table(buf):
        if key == b"":
            header = _parse(bundle.BundleHeaderProto, buf[start:end], "the checkpoint's header")
            if header.endianness != bundle.BundleHeaderProto.LITTLE:
                raise FormatError("a big-endian checkpoint")
            shards = header.num_shards
            continue
        name = key.decode(errors="replace")
        proto = _parse(bundle.BundleEntryProto, buf[start:end], f"the entry of {name}")
        if not proto.slices:  # a partitioned tensor's entry: its slices have entries of their own
            entries[name] = _Entry(proto.dtype, _dims(proto.shape, name), proto.shard_id, proto.offset,
                                   proto.size, proto, (start, end), block)
    if not 1 <= shards <= 64:
        raise FormatError(f"a checkpoint in {shards} shards")
    data_names = [f"{prefix}.data-{k:05d}-of-{shards:05d}" for k in range(shards)]
    checkpoint = Checkpoint(prefix, index_name, data_names)
    for name, entry in entries.items():
        if not 0 <= entry.shard < shards:
            raise FormatError(f"{name}: in shard {entry.shard} of {shards}")
        data = files.get(data_names[entry.shard])
        if data is None:
            raise FormatError(f"no file {data_names[entry.shard]}")
        if entry.offset < 0 or entry.size < 0 or entry.offset + entry.size > len(data):
            raise FormatError(f"{name}: its bytes lie outside {data_names[entry.shard]}")
        raw = data[entry.offset : entry.offset + entry.size]
        count = 1
        for d in entry.shape:
            count *= d
        if entry.dtype == types_pb2.DT_STRING:  # the object graph: checked, not given
            if entry.size and _string_tensor_crc(raw, count) != entry.proto.crc32c:
                raise FormatError(f"{name}: its checksum does not match")
            continue
        if entry.dtype not in DTYPES:
            continue
        if entry.size and masked_crc32c(raw) != entry.proto.crc32c:
            raise FormatError(f"{name}: its checksum does not match")
        dtype = np.dtype(DTYPES[entry.dtype])
        if entry.size != count * dtype.itemsize:
            raise FormatError(f"{name}: {entry.size} bytes for a {dtype} tensor of shape {entry.shape}")
        checkpoint.tensors[name] = np.frombuffer(raw, dtype).reshape(entry.shape).copy()
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
        if np.shape(value) != entry.shape or len(raw) != entry.size:
            raise FormatError(f"cannot replace {name}")
        proto = type(entry.proto)()
        proto.CopyFrom(entry.proto)
        proto.crc32c = masked_crc32c(raw)
        serialized = proto.SerializeToString(deterministic=True)
        start, end = entry.span
        if len(serialized) != end - start:  # the entry must keep its length: the table stays as it is
            raise FormatError(f"cannot replace {name}")
        shard = data[checkpoint.data_names[entry.shard]]
        shard[entry.offset : entry.offset + entry.size] = raw
        index[start:end] = serialized
        blocks.add(entry.block)
    for offset, size in blocks:
        struct.pack_into("<I", index, offset + size + 1, masked_crc32c(index[offset : offset + size + 1]))
    patched = dict(files)
    patched[checkpoint.index_name] = bytes(index)
    patched.update({name: bytes(b) for name, b in data.items()})
    return patched


# ------------------------------------------------------------------ TensorBoard event files


def _records(buf: bytes):
    """The payloads of a TFRecord file (length, masked crc of the length, data, masked crc of the data)."""
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
        payload = buf[start : start + length]
        if struct.unpack_from("<I", buf, start + length)[0] != masked_crc32c(payload):
            raise FormatError("a record's checksum does not match")
        yield payload
        pos = start + length + 4


def _scalar_of_tensor(tensor) -> float | None:
    """The value of a TensorProto of a scalar (float, double, int), else None."""
    if tensor.tensor_shape.unknown_rank or len(tensor.tensor_shape.dim):
        return None
    content = tensor.tensor_content
    if content and tensor.dtype in (types_pb2.DT_FLOAT, types_pb2.DT_DOUBLE):
        dtype = "<f4" if tensor.dtype == types_pb2.DT_FLOAT else "<f8"
        return float(np.frombuffer(content, dtype)[0]) if len(content) == np.dtype(dtype).itemsize else None
    for values in (tensor.float_val, tensor.double_val, tensor.int_val):
        if len(values) == 1:
            return float(values[0])
    return None


def read_scalars(buf: bytes) -> list[tuple[str, int, float]]:
    """(tag, step, value) of every scalar summary (simple_value or a scalar tensor) in an event file."""
    found = []
    for payload in _records(buf):
        event = _parse(event_pb2.Event, payload, "an event")
        for value in event.summary.value:
            kind = value.WhichOneof("value")
            number = value.simple_value if kind == "simple_value" else \
                _scalar_of_tensor(value.tensor) if kind == "tensor" else None
            if number is not None:
                found.append((value.tag, event.step, float(number)))
    return found
