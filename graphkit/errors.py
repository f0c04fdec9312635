"""Error helpers shared across graphkit: close-match suggestions and value descriptions."""
import difflib


def close_matches(name, choices, n=3):
    return difflib.get_close_matches(str(name), [str(c) for c in choices], n=n, cutoff=0.6)


def unknown_identifier(kind, name, choices):
    """A ValueError for an unknown string identifier, with a close-match suggestion."""
    msg = f"Unknown {kind}: {name!r}."
    matches = close_matches(name, choices)
    if matches:
        msg += f" Did you mean {matches[0]!r}?"
    listed = sorted(str(c) for c in choices)
    if len(listed) <= 40:
        plural = kind + ("es" if kind.endswith("s") else "s")
        msg += f" Valid {plural}: {', '.join(listed)}."
    return ValueError(msg)


def describe(value):
    """A short description of a value for error messages: `Tensor(shape=(2, 3), float32)`."""
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is not None and dtype is not None:
        return f"{type(value).__name__}(shape={tuple(shape)}, dtype={dtype})"
    return f"{type(value).__name__}({value!r})"[:120]
