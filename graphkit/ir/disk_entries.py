"""Checked, atomically written cache entries on disk: one file per key.

    payload = read_entry(path, key)          # bytes, or None (absent, or not a valid entry)
    ok = write_entry(path, key, payload)     # False when the folder cannot be written

Every file starts with a header: magic bytes, format version, the key it was written for,
the payload length and the payload's sha256. A file whose header, key, length or checksum
does not match (truncated, corrupt, written for another key or by another format) is
treated as absent and never returned; the caller's next write replaces it. Files are written
to a temporary name in the same folder and renamed (`os.replace`), so a reader never sees a
half-written entry. Shared by the object-code cache (codegen/disk_cache.py) and the pass
pipeline's result cache (ir/passes/pipeline_cache.py).
"""
import hashlib
import os
import struct
import tempfile

MAGIC = b"GKOBJ\0"
FORMAT_VERSION = 1
# magic, format version (u16), key digest (32 bytes), payload length (u64), payload sha256
_HEADER = struct.Struct("<6sH32sQ32s")
MISSING, REJECTED = "missing", "rejected"


def digest_key(parts):
    """Hex sha256 of a sequence of strings (length-prefixed, so the split is part of it)."""
    h = hashlib.sha256()
    for part in parts:
        data = str(part).encode("utf-8")
        h.update(struct.pack("<Q", len(data)))
        h.update(data)
    return h.hexdigest()


def decode(blob, key):
    """The payload of a well-formed entry for `key`, else None."""
    if len(blob) < _HEADER.size:
        return None
    magic, version, digest, length, checksum = _HEADER.unpack_from(blob)
    payload = blob[_HEADER.size:]
    if (magic != MAGIC or version != FORMAT_VERSION or digest != bytes.fromhex(key)
            or length != len(payload) or hashlib.sha256(payload).digest() != checksum):
        return None
    return payload


def read_entry(path, key):
    """(payload, None) for a valid entry, else (None, MISSING or REJECTED)."""
    try:
        with open(path, "rb") as f:
            blob = f.read()
    except OSError:
        return None, MISSING
    payload = decode(blob, key)
    return (payload, None) if payload is not None else (None, REJECTED)


def write_entry(path, key, payload):
    """Write an entry atomically. A folder that cannot be written is skipped (False)."""
    payload = bytes(payload)
    header = _HEADER.pack(MAGIC, FORMAT_VERSION, bytes.fromhex(key), len(payload),
                          hashlib.sha256(payload).digest())
    folder = os.path.dirname(path)
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{key[:16]}-", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(header)
                f.write(payload)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    except OSError:
        return False
    return True
