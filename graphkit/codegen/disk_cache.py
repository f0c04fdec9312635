"""Object-code cache on disk, so that a warm process runs no LLVM optimize or codegen.

Layout: `<cache_dir()>/objects/<key>.gko`, one file per compiled unit. The key is the
sha256 of the unit's source (the LLVM IR text we generate, or any kernel key), the target
(`target.target_key`: CPU, OS, llvmlite build, codegen source) and the graphkit version.

Entries are checked and written atomically (graphkit/ir/disk_entries.py): a file whose
header, key, length or checksum does not match (truncated, corrupt, written for another key
or by another format) is treated as absent: it is never loaded, it is counted in
`STATS["rejected"]`, and the next store rewrites it.
"""
import os

import graphkit
from graphkit import config
from graphkit.codegen.target import target_key
from graphkit.ir import disk_entries

MAGIC = disk_entries.MAGIC
FORMAT_VERSION = disk_entries.FORMAT_VERSION

STATS = {"hits": 0, "misses": 0, "rejected": 0, "stores": 0}


def cache_key(source):
    """Hex key for a unit: sha256(source text, target key, graphkit version)."""
    return disk_entries.digest_key((repr(target_key()), graphkit.__version__,
                                    str(source)))


def _folder():
    return os.path.join(config.cache_dir(), "objects")


def entry_path(key):
    return os.path.join(_folder(), f"{key}.gko")


def load(key):
    """The cached object bytes for `key`, or None (missing or rejected)."""
    payload, why = disk_entries.read_entry(entry_path(key), key)
    if payload is None:
        STATS["misses"] += 1
        if why == disk_entries.REJECTED:
            STATS["rejected"] += 1
        return None
    STATS["hits"] += 1
    return payload


def reject(key):
    """Count a loaded entry that its reader could not use as rejected (the next store
    rewrites it)."""
    STATS["hits"] -= 1
    STATS["rejected"] += 1
    STATS["misses"] += 1


def store(key, payload):
    """Write an entry atomically. A cache that cannot be written is skipped, not an error."""
    if not disk_entries.write_entry(entry_path(key), key, payload):
        return False
    STATS["stores"] += 1
    return True
