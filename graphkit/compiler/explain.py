"""Why a jitted function traced again: the difference between a call's signature and the
closest signature already in the cache, in words.

    args[0]: seen f32[32,10], now f32[16,10]
    static argument 'training': seen True, now False
    kwargs: seen keys ['x'], now keys ['x', 'y']
"""
from graphkit.compiler.cache_key import describe_spec


def closest(sig, seen):
    """The cached signature that differs from `sig` in the fewest places."""
    return min(seen, key=lambda old: len(differences(old, sig)))


def differences(old, new):
    """A list of human-readable reasons, empty when the signatures are equal."""
    reasons = []
    if old.structure != new.structure:
        reasons.extend(structure_diff(old.structure, new.structure, "arguments"))
    else:
        for path, a, b in zip(new.paths, old.specs, new.specs):
            if a != b:
                reasons.append(f"{path}: seen {describe_spec(a)}, now {describe_spec(b)}")
    old_static, new_static = dict(old.statics), dict(new.statics)
    for name in sorted(set(old_static) | set(new_static)):
        a, b = old_static.get(name, _MISSING), new_static.get(name, _MISSING)
        if a != b or type(a) is not type(b):
            reasons.append(f"static argument {name!r}: seen {_show(a)}, now {_show(b)}")
    for (name, a), (_, b) in zip(old.context, new.context):
        if a != b:
            reasons.append(f"config {name}: seen {a}, now {b}")
    return reasons


class _Missing:
    def __repr__(self):
        return "(not given)"


_MISSING = _Missing()


def _show(v):
    return repr(v)


def structure_diff(old, new, path):
    """Differences between two tree.structure_signature values, located by path."""
    if old == new:
        return []
    if old == "*" or new == "*" or old[0] != new[0]:
        return [f"{path}: seen {_kind(old)}, now {_kind(new)}"]
    kind, old_items = old
    _, new_items = new
    if kind == "dict":
        old_keys, new_keys = [k for k, _ in old_items], [k for k, _ in new_items]
        if old_keys != new_keys:
            return [f"{path}: seen keys {old_keys}, now keys {new_keys}"]
        return [r for (k, a), (_, b) in zip(old_items, new_items)
                for r in structure_diff(a, b, _child(path, k))]
    if len(old_items) != len(new_items):
        what = "positional arguments" if path == "args" else f"items in a {kind}"
        return [f"{path}: seen {len(old_items)} {what}, now {len(new_items)}"]
    return [r for i, (a, b) in enumerate(zip(old_items, new_items))
            for r in structure_diff(a, b, _child(path, i))]


def _kind(sig):
    if sig == "*":
        return "a single value"
    kind, items = sig
    return f"a {kind} of {len(items)}"


def _child(path, key):
    if path == "arguments":  # the top level: {"args": [...], "kwargs": {...}}
        return str(key)
    return f"{path}[{key!r}]"


def retrace_message(name, n_traces, reasons):
    return f"{name}: traced again (trace #{n_traces}) because " + "; ".join(reasons)
