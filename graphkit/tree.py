"""Nested structures (lists, tuples, namedtuples, dicts) of leaves: flatten, unflatten, map.

Dict keys are visited in sorted order, as in Keras's `tree`. `None` is a leaf.
"""


def _is_namedtuple(x):
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


_NESTED = (list, tuple, dict)


def is_nested(x):
    return isinstance(x, _NESTED)


def _children(x):
    if isinstance(x, dict):
        keys = sorted(x, key=_sort_key)
        return keys, [x[k] for k in keys]
    return None, list(x)


def _sort_key(k):
    return (type(k).__name__, k) if not isinstance(k, str) else ("str", k)


def flatten(structure):
    out = []
    _flatten_into(structure, out)
    return out


def _flatten_into(x, out):
    if type(x) is list or type(x) is tuple:
        # Leaves are appended here rather than in a call each: a training step flattens
        # its lists of weights and gradients several times.
        for c in x:
            if isinstance(c, _NESTED):
                _flatten_into(c, out)
            else:
                out.append(c)
    elif isinstance(x, _NESTED):
        for c in _children(x)[1]:
            _flatten_into(c, out)
    else:
        out.append(x)


def pack_sequence_as(structure, flat):
    flat = list(flat)
    result, used = _pack(structure, flat, 0)
    if used != len(flat):
        raise ValueError(
            f"pack_sequence_as: the structure has {used} leaves, received {len(flat)} values")
    return result


def _pack(x, flat, i):
    if not isinstance(x, _NESTED):
        return flat[i], i + 1
    keys, children = _children(x)
    packed = []
    for c in children:
        if isinstance(c, _NESTED):
            v, i = _pack(c, flat, i)
        else:  # a leaf, taken here rather than in a call
            v = flat[i]
            i += 1
        packed.append(v)
    if isinstance(x, dict):
        return type(x)((k, v) for k, v in zip(keys, packed)) if type(x) is not dict \
            else {k: v for k, v in zip(keys, packed)}, i
    if _is_namedtuple(x):
        return type(x)(*packed), i
    return type(x)(packed), i


def map_structure(fn, *structures):
    if len(structures) == 1 and not isinstance(structures[0], _NESTED):
        return fn(structures[0])  # a leaf: what flattening and packing it would give
    flats = [flatten(s) for s in structures]
    n = len(flats[0])
    for f in flats[1:]:
        if len(f) != n:
            raise ValueError("map_structure: the structures do not have the same number of leaves")
    return pack_sequence_as(structures[0], [fn(*xs) for xs in zip(*flats)])


def flatten_with_path(structure, prefix=()):
    """[(path, leaf)], the path being a tuple of keys and indices."""
    if not is_nested(structure):
        return [(prefix, structure)]
    keys, children = _children(structure)
    keys = keys if keys is not None else range(len(children))
    out = []
    for k, c in zip(keys, children):
        out.extend(flatten_with_path(c, prefix + (k,)))
    return out


def assert_same_structure(a, b):
    if structure_signature(a) != structure_signature(b):
        raise ValueError(f"The two structures differ: {structure_signature(a)} vs {structure_signature(b)}")


def structure_signature(x):
    """A hashable description of the nesting, without the leaves."""
    if isinstance(x, dict):
        keys = sorted(x, key=_sort_key)
        return ("dict", tuple((k, structure_signature(x[k])) for k in keys))
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, tuple(structure_signature(c) for c in x))
    return "*"
