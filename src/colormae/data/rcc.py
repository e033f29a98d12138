"""Read the files inside a compiled Qt resource bundle (``.rcc``, as written by Qt's ``rcc -binary``).

The ``natural`` data set takes its photos from the ``.rcc`` bundles of Debian's ``gcompris-qt-data``.
Written by hand because no Python package reads the format (PySide's ``rcc`` only writes it). Format
(Qt's ``qresource.cpp``): the magic ``qres``, then four big-endian ``uint32`` (format version, offsets of
the tree, the data and the names), version 3 adds a ``uint32`` of flags. Tree nodes are 14 bytes
(22 from version 2 on: plus a ``uint64`` modification time): ``uint32`` name offset, ``uint16`` flags
(1 zlib, 2 directory, 4 zstd), then for a directory ``uint32`` child count and ``uint32`` index of the
first child, for a file ``uint16`` country, ``uint16`` language and ``uint32`` data offset. A name is a
``uint16`` length, a ``uint32`` hash and UTF-16BE characters; a data entry is a ``uint32`` length and the
bytes (zlib entries start with Qt's 4-byte uncompressed length).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

MAGIC = b"qres"
FLAG_ZLIB, FLAG_DIRECTORY, FLAG_ZSTD = 1, 2, 4


class RccError(ValueError):
    """A file that is not a Qt resource bundle, or one this reader cannot decode."""


def read_rcc(path: str | Path) -> dict[str, bytes]:
    """Every file in the bundle at ``path``: ``{"/dir/sub/name.ext": content}`` (paths start with ``/``)."""
    blob = Path(path).read_bytes()
    if blob[:4] != MAGIC or len(blob) < 20:
        raise RccError(f"{path}: not a Qt resource bundle (no 'qres' header)")
    version, tree, data, names = struct.unpack(">IIII", blob[4:20])
    node_size = 14 if version < 2 else 22
    files: dict[str, bytes] = {}

    def name_at(offset: int) -> str:
        (length,) = struct.unpack(">H", blob[names + offset:names + offset + 2])
        start = names + offset + 6
        return blob[start:start + 2 * length].decode("utf-16-be")

    def content(flags: int, offset: int) -> bytes:
        (length,) = struct.unpack(">I", blob[data + offset:data + offset + 4])
        raw = blob[data + offset + 4:data + offset + 4 + length]
        if flags & FLAG_ZLIB:
            return zlib.decompress(raw[4:])
        if flags & FLAG_ZSTD:
            try:
                import zstandard
            except ImportError as err:
                raise RccError(f"{path}: zstd-compressed entries need the zstandard package") from err
            return zstandard.ZstdDecompressor().decompress(raw, max_output_size=1 << 30)
        return raw

    def walk(index: int, prefix: str, depth: int) -> None:
        if depth > 64:
            raise RccError(f"{path}: resource tree too deep (corrupt file?)")
        node = tree + index * node_size
        name_offset, flags = struct.unpack(">IH", blob[node:node + 6])
        name = name_at(name_offset) if index else ""
        if flags & FLAG_DIRECTORY:
            count, first = struct.unpack(">II", blob[node + 6:node + 14])
            for child in range(first, first + count):
                walk(child, f"{prefix}{name}/", depth + 1)
        else:
            (offset,) = struct.unpack(">I", blob[node + 10:node + 14])
            files[prefix + name] = content(flags, offset)

    try:
        walk(0, "", 0)
    except (struct.error, zlib.error, UnicodeDecodeError) as err:
        raise RccError(f"{path}: corrupt Qt resource bundle ({err})") from err
    return files
