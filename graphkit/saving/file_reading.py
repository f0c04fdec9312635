"""Reading saved files defensively: every failure becomes a SavedFileError that names the
file, the member or field at fault, and what to do about it.

Arrays are read with NumPy's `allow_pickle=False`, so a file can hold data only, never code.
"""
import io
import json
import os
import zipfile
import zlib

import numpy as np

from graphkit.saving.errors import SavedFileError

# What reading a damaged zip or npy can raise, besides BadZipFile.
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError)

RESAVE = "Save the model again (model.save) to get a good copy."


def check_readable(path, suffixes, what, other_formats=()):
    """The path as a string, after checking that it names an existing file of a known kind.

    `other_formats` is a list of (suffix, advice) for files of a graphkit format that this
    reader does not take (a weights file given to load_model, say).
    """
    path = os.fspath(path)
    for suffix, advice in other_formats:
        if path.endswith(suffix):
            raise ValueError(f"Cannot load '{path}' as a {what}: {advice}")
    if not any(path.endswith(s) for s in suffixes):
        raise ValueError(f"Cannot load '{path}' as a {what}: the file name must end with "
                         f"{' or '.join(repr(s) for s in suffixes)} (received a file named "
                         f"'{os.path.basename(path)}'). Rename it if it is one.")
    if not os.path.exists(path):
        raise FileNotFoundError(f"Cannot load '{path}': no such file. Check the path (the "
                                f"current folder is '{os.getcwd()}').")
    if os.path.isdir(path):
        raise IsADirectoryError(f"Cannot load '{path}': it is a folder, not a {what} file")
    return path


def open_zip(path, what):
    try:
        return zipfile.ZipFile(path, "r")
    except zipfile.BadZipFile as e:
        size = os.path.getsize(path)
        raise SavedFileError(
            path, "zip structure",
            f"the file ({size} bytes) is not a readable zip archive ({e}); it is truncated, "
            f"corrupt or not a {what} at all", RESAVE) from None


def read_member(archive, path, member):
    """The bytes of one archive member; a damaged or missing member is named."""
    if member not in archive.namelist():
        raise SavedFileError(path, member,
                             f"the archive has no '{member}' (it holds "
                             f"{sorted(archive.namelist())}); it is not a complete graphkit "
                             ".keras file", RESAVE)
    try:
        return archive.read(member)
    except _READ_ERRORS as e:
        raise SavedFileError(path, member, f"the member is corrupt or truncated "
                             f"({type(e).__name__}: {e})", RESAVE) from None


def parse_json(path, member, data):
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SavedFileError(path, member, f"not valid JSON ({e})", RESAVE) from None
    if not isinstance(value, dict):
        raise SavedFileError(path, member, f"expected a JSON object, found "
                             f"{type(value).__name__}", RESAVE)
    return value


def read_npz(source, label, member):
    """{key: array} from an .npz file or bytes. `label` names the file in errors."""
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    arrays = {}
    key = None
    try:
        npz = np.load(source, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            # A lone .npy array: np.load returns it as is, with no archive to open.
            raise SavedFileError(label, _at(member, key), "not an .npz archive (it holds a "
                                 "single .npy array, not named weight arrays)", RESAVE)
        with npz:
            for key in npz.files:
                arrays[key] = npz[key]
    except ValueError as e:
        if isinstance(e, SavedFileError):
            raise
        if "allow_pickle" in str(e) and key is None:
            # Neither a zip nor an .npy header: NumPy's last guess is a pickle, but the data
            # is simply not an .npz archive.
            raise SavedFileError(label, _at(member, key), "not an .npz archive: the data is "
                                 "corrupt, truncated or of another format", RESAVE) from None
        if "allow_pickle" in str(e):
            raise SavedFileError(label, _at(member, key),
                                 "the value is a pickled Python object; graphkit never loads "
                                 "pickles (they can run code)", RESAVE) from None
        raise SavedFileError(label, _at(member, key), f"corrupt array data ({e})",
                             RESAVE) from None
    except _READ_ERRORS as e:
        raise SavedFileError(label, _at(member, key), f"corrupt or truncated array data "
                             f"({type(e).__name__}: {e})", RESAVE) from None
    return arrays


def _at(member, key):
    if key is None:
        return member
    return f"{member}: '{key}'" if member else f"'{key}'"


def check_format_version(path, field, metadata, supported):
    version = metadata.get("format_version")
    if version is None:
        raise SavedFileError(path, field, "no 'format_version' field; the file was not "
                             "written by graphkit", RESAVE)
    if not isinstance(version, int) or isinstance(version, bool):
        raise SavedFileError(path, f"{field}: format_version",
                             f"expected an integer, found {version!r}", RESAVE)
    if version not in supported:
        writer = metadata.get("graphkit_version", "an unknown version")
        from graphkit import __version__
        raise SavedFileError(
            path, f"{field}: format_version",
            f"format version {version} (written by graphkit {writer}) is not one this "
            f"graphkit ({__version__}) reads: it reads format versions "
            f"{sorted(supported)}",
            "Load the file with the graphkit version that wrote it (or a newer one), or "
            "save the model again with this version.")
    return version
