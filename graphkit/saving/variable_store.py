"""A model's state as a flat dict {path: array}, from a walk of its attributes (Keras 3's).

The walk starts at the model. Each *saveable* object (a layer, an optimizer, a
SeedGenerator) stores its own variables under `<path>/vars/<i>` through its
`save_own_variables(store)`, and the walk then goes into the saveables held by a layer's
attributes, in name order (a Functional or Sequential model's `layers` first):
    layers/dense/vars/0, layers/dense_1/vars/0, layers/dropout/seed_generator/vars/0,
    optimizer/vars/0, ...
Inside a list or dict, an object is named after its class (`dense`, `dense_1`, ...), not
after its layer name: layer names depend on how many layers a process has made, the class
sequence does not, so two instances of the same architecture get the same paths.
Each object is stored once, at the first path the walk reaches it by.

Metrics are not saved: their state is per epoch, and `fit` resets it.
"""
import warnings

import numpy as np

from graphkit.layers.layer import Layer
from graphkit.naming import to_snake_case
from graphkit.optimizers.optimizer import Optimizer
from graphkit.random.seed_generator import SeedGenerator


class WeightsMismatchError(ValueError):
    """The saved state does not fit the model: counts, shapes or paths differ."""


class PathStore:
    """The view of the flat dict that one object sees: keys "0", "1", ... under `prefix`."""

    def __init__(self, arrays, prefix, consumed=None):
        self.arrays = arrays
        self.prefix = prefix
        self.consumed = consumed

    def _key(self, key):
        return f"{self.prefix}/{key}"

    def __setitem__(self, key, value):
        array = np.array(value)
        if array.dtype.kind not in "biuf":
            raise TypeError(f"Cannot save '{self._key(key)}': only bool and numeric arrays are "
                            f"saved, received dtype {array.dtype}")
        self.arrays[self._key(key)] = array

    def __getitem__(self, key):
        full = self._key(key)
        if full not in self.arrays:
            raise KeyError(f"no saved value at '{full}'")
        if self.consumed is not None:
            self.consumed.add(full)
        return self.arrays[full]

    def __contains__(self, key):
        return self._key(key) in self.arrays

    def keys(self):
        start = self.prefix + "/"
        return [k[len(start):] for k in self.arrays
                if k.startswith(start) and "/" not in k[len(start):]]

    def __len__(self):
        return len(self.keys())


def _is_metric(obj):
    return any(c.__name__ == "Metric" and c.__module__.startswith("graphkit.metrics")
               for c in type(obj).__mro__)


def is_saveable(obj):
    return (isinstance(obj, (Layer, Optimizer, SeedGenerator))
            or (callable(getattr(obj, "save_own_variables", None))
                and callable(getattr(obj, "load_own_variables", None)))) \
        and not _is_metric(obj)


def _join(path, name):
    return f"{path}/{name}" if path else name


def _vars_prefix(path):
    return _join(path, "vars")


def _children(obj):
    """(attribute name, value) pairs the walk goes into: only a layer has children."""
    if not isinstance(obj, Layer):
        return
    skip = getattr(type(obj), "_untracked_attrs", frozenset())
    # Functional and Sequential models hold their layers in internal lists, and a compiled
    # model its optimizer: they come first, under fixed names, so that the internal
    # attributes that also reference them (a compile config, say) never decide a path.
    from graphkit.models.functional import Functional
    from graphkit.models.sequential import Sequential
    if isinstance(obj, (Functional, Sequential)):
        yield "layers", obj.layers
    attributes = vars(obj)
    if isinstance(attributes.get("optimizer"), Optimizer):
        yield "optimizer", attributes["optimizer"]
    # Public attributes before private ones, each group in name order.
    for name in sorted(attributes, key=lambda n: (n.startswith("_"), n)):
        if name.startswith("__") or name in skip:
            continue
        yield name, attributes[name]


def _container_items(container):
    """(name, saveable) for the saveables in a list, tuple or dict, named by class."""
    values = container.values() if isinstance(container, dict) else container
    used = {}
    for value in values:
        if not is_saveable(value):
            continue
        base = to_snake_case(type(value).__name__)
        count = used.get(base, -1) + 1
        used[base] = count
        yield (base if count == 0 else f"{base}_{count}"), value


def walk(obj, path="", visited=None):
    """Yield (path, saveable) for `obj` and everything below it, each object once."""
    visited = set() if visited is None else visited
    if id(obj) in visited:
        return
    visited.add(id(obj))
    yield path, obj
    for name, value in _children(obj):
        if is_saveable(value):
            yield from walk(value, _join(path, name), visited)
        elif isinstance(value, (list, tuple, dict)):
            for item_name, item in _container_items(value):
                yield from walk(item, _join(_join(path, name), item_name), visited)


# -- save -------------------------------------------------------------------------------------------

def collect_state(model):
    """{path: array} for every variable the walk reaches (weights, optimizer, seeds)."""
    arrays = {}
    for path, obj in walk(model):
        obj.save_own_variables(PathStore(arrays, _vars_prefix(path)))
    return arrays


# -- load -------------------------------------------------------------------------------------------

def restore_state(model, arrays, source, skip_mismatch=False):
    """Assign the saved `arrays` to the model's variables; every mismatch is named by path."""
    if not skip_mismatch:
        _check_before_loading(model, arrays, source)
    consumed = set()
    for path, obj in walk(model):
        store = PathStore(arrays, _vars_prefix(path), consumed)
        try:
            _restore_one(model, path, obj, store, source)
        except WeightsMismatchError as e:
            if not skip_mismatch:
                raise
            warnings.warn(f"{e} (skipped: skip_mismatch=True)", stacklevel=3)
            consumed.update(store._key(k) for k in store.keys())
    _check_leftovers(arrays, consumed, model, source, skip_mismatch)


def claimed_keys(model, arrays):
    """The saved keys that an object of `model` reads: those under its walk paths."""
    claimed = set()
    for path, _ in walk(model):
        store = PathStore(arrays, _vars_prefix(path))
        claimed.update(store._key(k) for k in store.keys())
    return claimed


def _check_before_loading(model, arrays, source):
    """Raise on a count, shape or leftover mismatch before any variable is assigned, so
    that a file that does not fit leaves the model as it was, not half-loaded."""
    claimed = claimed_keys(model, arrays)
    for path, obj in walk(model):
        store = PathStore(arrays, _vars_prefix(path))
        own = None if isinstance(obj, Optimizer) else _default_variables(obj)
        if own is not None:
            _check_counts_and_shapes(path, obj, own, store, source)
    # The optimizer's entries are checked (or skipped) when it loads.
    claimed.update(k for k in arrays if k.startswith("optimizer/"))
    _check_leftovers(arrays, claimed, model, source, skip_mismatch=False)


def _restore_one(model, path, obj, store, source):
    if isinstance(obj, Optimizer):
        if not store.keys():
            return  # saved without an optimizer (not compiled): keep the fresh state
        _restore_optimizer(model, path, obj, store, source)
        return
    own = _default_variables(obj)
    if own is not None:
        _check_counts_and_shapes(path, obj, own, store, source)
    try:
        obj.load_own_variables(store)
    except WeightsMismatchError:
        raise
    except (ValueError, KeyError, TypeError) as e:
        raise WeightsMismatchError(f"'{source}': loading '{_vars_prefix(path)}' into "
                                   f"{_describe(obj)} failed: {e}") from e


def _default_variables(obj):
    """The variables in save order, when `obj` keeps the default save/load methods."""
    cls = type(obj)
    if isinstance(obj, Layer) and cls.load_own_variables is Layer.load_own_variables:
        return obj._trainable_variables + obj._non_trainable_variables
    if isinstance(obj, Optimizer) and cls.load_own_variables is Optimizer.load_own_variables:
        return obj.variables
    if isinstance(obj, SeedGenerator) and \
            cls.load_own_variables is SeedGenerator.load_own_variables:
        return [obj.state]
    return None


def _check_counts_and_shapes(path, obj, own, store, source):
    keys = sorted(store.keys(), key=lambda k: (len(k), k))
    prefix = _vars_prefix(path)
    if len(keys) != len(own):
        hint = ""
        if isinstance(obj, Layer) and not obj.built:
            hint = (" The layer is not built: build the model (call it on data or give it "
                    "an Input) before loading weights.")
        raise WeightsMismatchError(
            f"'{source}' holds {len(keys)} variables at '{prefix}', but {_describe(obj)} has "
            f"{len(own)} ({[v.path for v in own]}).{hint} Check that the model has the same "
            "architecture as the one that was saved.")
    for i, variable in enumerate(own):
        stored = store.arrays.get(f"{prefix}/{i}")
        if stored is None:
            raise WeightsMismatchError(f"'{source}' has no value at '{prefix}/{i}' for variable "
                                       f"'{variable.path}' of {_describe(obj)}")
        if tuple(stored.shape) != tuple(variable.shape):
            raise WeightsMismatchError(
                f"'{source}': the value at '{prefix}/{i}' has shape {tuple(stored.shape)}, but "
                f"variable '{variable.path}' of {_describe(obj)} has shape "
                f"{tuple(variable.shape)}. Check that the model has the same architecture "
                "as the one that was saved (or pass skip_mismatch=True to skip it).")


def _restore_optimizer(model, path, optimizer, store, source):
    n_saved = len(store.keys())
    if n_saved > len(optimizer.variables) and not optimizer.built:
        # The optimizer makes its slots lazily, on the first training step: make them now, on
        # the variables it will train, so that the saved slot values have somewhere to go.
        optimizer.build(model.trainable_variables)
    own = optimizer.variables
    if n_saved < len(own) and n_saved == _unbuilt_count(optimizer):
        # Saved before its first step: only the step count and the learning rate exist, and
        # the slots are still at their initial values.
        own = own[:n_saved]
    if n_saved != len(own):
        # As Keras: the state of another optimizer (or of another configuration of this
        # one) is skipped with a warning. The model's weights still load.
        warnings.warn(f"'{source}': skipping the optimizer state at '{_vars_prefix(path)}': "
                      f"it holds {n_saved} variables, but {_describe(optimizer)} has "
                      f"{len(own)}. The optimizer keeps its initial state.", stacklevel=4)
        store.consumed.update(store._key(k) for k in store.keys())
        return
    _check_counts_and_shapes(path, optimizer, own, store, source)
    for i, variable in enumerate(own):
        variable.assign(store[str(i)])


def _unbuilt_count(optimizer):
    """How many variables the optimizer had before `build` (step count, learning rate)."""
    fresh = type(optimizer).from_config(optimizer.get_config())
    return len(fresh.variables)


def _check_leftovers(arrays, consumed, model, source, skip_mismatch):
    has_optimizer = getattr(model, "optimizer", None) is not None
    leftovers = [k for k in arrays if k not in consumed
                 and not (k.startswith("optimizer/") and not has_optimizer)]
    if not leftovers:
        return
    message = (f"'{source}' holds {len(leftovers)} values that no variable of model "
               f"'{model.name}' takes: {sorted(leftovers)[:8]}"
               f"{' ...' if len(leftovers) > 8 else ''}. Check that the model has the same "
               "architecture as the one that was saved.")
    if skip_mismatch:
        warnings.warn(message, stacklevel=3)
        return
    raise WeightsMismatchError(message)


def _describe(obj):
    name = getattr(obj, "name", None)
    return f"{type(obj).__name__} '{name}'" if name else type(obj).__name__
