"""The errors saving and loading raise. Each names the file, the part at fault and a fix."""


class SavedFileError(ValueError):
    """A saved file that cannot be read: corrupt, truncated, wrong format or wrong version.

    `path` is the file, `field` the member or field at fault (for example "config.json" or
    "metadata.json: format_version").
    """

    def __init__(self, path, field, problem, fix):
        self.path = path
        self.field = field
        where = f"{field}: " if field else ""
        super().__init__(f"Cannot load '{path}': {where}{problem}. {fix}")


class UnknownObjectError(TypeError, ValueError):
    """A config names a class or function that cannot be found. It is both a TypeError (as in
    Keras 3) and a ValueError (as for unknown string identifiers elsewhere in graphkit)."""


def with_file_context(error, path, detail=None):
    """`error` re-created with "Cannot load '<path>' (<detail>): " in front, keeping its type."""
    if isinstance(error, SavedFileError):
        return error
    where = f" ({detail})" if detail else ""
    message = f"Cannot load '{path}'{where}: {error}"
    try:
        new = type(error)(message)
    except Exception:  # a type whose constructor needs other arguments
        new = ValueError(message)
    return new
