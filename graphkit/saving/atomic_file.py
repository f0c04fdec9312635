"""Atomic file writes: write a temporary file next to the target, then rename it over.

`os.replace` is atomic on one file system, so a reader sees either the old file or the new
one, and a save that fails midway (an exception, Ctrl-C, a full disk) leaves the old file as
it was. The temporary file is in the target's folder so that the rename never crosses file
systems.
"""
import os
import uuid


def check_target(path, overwrite, what):
    """Raise a clear error when `path` cannot receive a new file."""
    if os.path.isdir(path):
        raise IsADirectoryError(f"Cannot save the {what} to '{path}': it is a folder. "
                                "Give a file path instead.")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"Cannot save the {what} to '{path}': the folder '{folder}' "
                                "does not exist. Create it first.")
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"Cannot save the {what} to '{path}': the file exists and "
                              "overwrite=False. Pass overwrite=True or choose another path.")


def write_atomically(path, write):
    """Call `write(binary_file)` on a temporary file, then move it to `path`."""
    folder = os.path.dirname(os.path.abspath(path))
    temporary = os.path.join(
        folder, f".{os.path.basename(path)}.{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp")
    # 0o666 filtered by the umask: the same permissions as a file written with open().
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
