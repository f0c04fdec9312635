"""Object-code cache on disk, so that a warm process runs no LLVM optimize or codegen.

Layout: `<cache_dir()>/objects/<key>.gko`, one file per compiled unit. The key is the
sha256 of the unit's source (the LLVM IR text we generate, or any kernel key), the target's
magic tuple (triple, CPU, features, LLVM version...) and the graphkit version.

Each file starts with a header: magic bytes, format version, the key it was written for, the
payload length and the payload's sha256. A file whose header, key, length or checksum does
not match (truncated, corrupt, written for another key or by another format) is treated as
absent: it is never loaded, it is counted in `STATS["rejected"]`, and the next store
rewrites it. Files are written to a temporary name in the same folder and renamed
(`os.replace`), so a reader never sees a half-written entry.
"""
import hashlib
import os
import struct
import tempfile

import graphkit
from graphkit import config
from graphkit.codegen.target import host_target

MAGIC = b"GKOBJ\0"
FORMAT_VERSION = 1
# magic, format version (u16), key digest (32 bytes), payload length (u64), payload sha256
_HEADER = struct.Struct("<6sH32sQ32s")

STATS = {"hits": 0, "misses": 0, "rejected": 0, "stores": 0}


def cache_key(source):
    """Hex key for a unit: sha256(source text, target magic tuple, graphkit version)."""
    h = hashlib.sha256()
    for part in (repr(host_target().magic_tuple()), graphkit.__version__, str(source)):
        data = part.encode("utf-8")
        h.update(struct.pack("<Q", len(data)))
        h.update(data)
    return h.hexdigest()


def _folder():
    return os.path.join(config.cache_dir(), "objects")


def entry_path(key):
    return os.path.join(_folder(), f"{key}.gko")


def _decode(blob, key):
    """The payload of a well-formed entry for `key`, else None."""
    if len(blob) < _HEADER.size:
        return None
    magic, version, digest, length, checksum = _HEADER.unpack_from(blob)
    payload = blob[_HEADER.size:]
    if (magic != MAGIC or version != FORMAT_VERSION or digest != bytes.fromhex(key)
            or length != len(payload) or hashlib.sha256(payload).digest() != checksum):
        return None
    return payload


def load(key):
    """The cached object bytes for `key`, or None (missing or rejected)."""
    path = entry_path(key)
    try:
        with open(path, "rb") as f:
            blob = f.read()
    except OSError:
        STATS["misses"] += 1
        return None
    payload = _decode(blob, key)
    if payload is None:
        STATS["rejected"] += 1
        STATS["misses"] += 1
        return None
    STATS["hits"] += 1
    return payload


def store(key, payload):
    """Write an entry atomically. A cache that cannot be written is skipped, not an error."""
    payload = bytes(payload)
    header = _HEADER.pack(MAGIC, FORMAT_VERSION, bytes.fromhex(key), len(payload),
                          hashlib.sha256(payload).digest())
    folder = _folder()
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{key[:16]}-", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(header)
                f.write(payload)
            os.replace(tmp, entry_path(key))
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    except OSError:
        return False
    STATS["stores"] += 1
    return True
