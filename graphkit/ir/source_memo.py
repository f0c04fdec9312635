"""Content hashes of source files, remembered on disk under the files' stat signatures.

    digest = remembered("codegen", paths, lambda: hash_files(paths))

The caches' keys cover the source of the code that produced their entries (the passes, the
code generator), hashed by content: a fresh clone gives every file a new mtime, and only the
bytes say whether the output may differ. Reading and hashing ~70 files costs ~2.5 ms on a
warm process's first compiled call, though, for a digest that is the same process after
process. So the digest is stored in `<cache_dir()>/sources/<key>.gks`, keyed by every file's
absolute path, size, mtime (ns) and inode, as Python trusts a .pyc by its source's mtime and
size: a file that is edited, replaced or moved changes the key, and the digest is computed
from the bytes again. Entries are checked and written atomically (disk_entries.py); one that
is missing or rejected is recomputed and rewritten, and a cache folder that cannot be
written only costs the recomputation.
"""
import os

from graphkit import config
from graphkit.ir import disk_entries

FORMAT = 1


def remembered(label, paths, compute):
    """`compute()` (a str, the content hash of `paths`), read from the memo when no file
    of `paths` changed since it was stored. `label` names what is hashed (which function
    of the bytes `compute` is)."""
    parts = [f"graphkit source memo {FORMAT}", label]
    try:
        for path in paths:
            st = os.stat(path)
            parts.append(f"{os.path.abspath(path)}\0{st.st_size}\0{st.st_mtime_ns}"
                         f"\0{st.st_ino}")
    except OSError:   # a file vanished: whatever compute() says about it, not remembered
        return compute()
    key = disk_entries.digest_key(parts)
    path = os.path.join(config.cache_dir(), "sources", f"{key}.gks")
    payload, _ = disk_entries.read_entry(path, key)
    if payload is not None:
        try:
            return payload.decode("ascii")
        except UnicodeDecodeError:
            pass      # a foreign payload under a valid header: rewritten below
    digest = compute()
    disk_entries.write_entry(path, key, digest.encode("ascii"))
    return digest
