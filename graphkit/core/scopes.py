"""Scopes that change how variables behave for a while.

- A *state scope* intercepts variable reads and assigns. `stateless_call` uses one to run a
  layer on given variable values, and the IR tracer uses one to turn reads into graph inputs
  and assigns into graph outputs. Layer code never knows which.
- An *autocast scope* makes float variables read as the compute dtype (mixed precision).
"""
import contextlib
import threading

class _ScopeStacks(threading.local):
    """Per thread, one stack per kind of scope (made when the thread first looks)."""

    def __init__(self):
        self.state = []
        self.autocast = []
        self.donated = []


_local = _ScopeStacks()


def _get(name):
    return getattr(_local, name)


class StateScope:
    """Base class. `read` returns a value or None (use the variable's own); `assign`
    returns True when it took the new value (so the variable's storage is left alone)."""

    def read(self, variable):
        return None

    def assign(self, variable, value):
        return False

    def __enter__(self):
        _get("state").append(self)
        return self

    def __exit__(self, *exc):
        _get("state").pop()


class StatelessScope(StateScope):
    """Reads come from `state_mapping` (variable -> value); assigns are collected, not applied."""

    def __init__(self, state_mapping=None):
        mapping = state_mapping if type(state_mapping) is list else list(state_mapping or ())
        self._values = {id(var): value for var, value in mapping}
        # The values are keyed by id(): the scope holds its variables (the mapping's, and
        # any assigned later) so that no id can be reused by another variable meanwhile.
        # Holding the pairs themselves saves a second dict per scope (several per step).
        self._held = [tuple(mapping)]  # a copy: the caller may reuse its list

    def read(self, variable):
        return self._values.get(id(variable))

    def assign(self, variable, value):
        key = id(variable)
        if key not in self._values:
            self._held.append(variable)
        self._values[key] = value
        return True

    def get_current_value(self, variable):
        return self._values.get(id(variable))


def current_state_scope():
    s = _local.state  # read on every variable read: no helper call
    return s[-1] if s else None


@contextlib.contextmanager
def autocast(dtype):
    """Inside, float variables are read as `dtype` (None switches autocasting off)."""
    s = _get("autocast")
    s.append(dtype)
    try:
        yield
    finally:
        s.pop()


def autocast_dtype():
    s = _local.autocast
    return s[-1] if s else None


# -- donation --------------------------------------------------------------------------------
# A step function that owns the arrays of its state (private copies no one else holds) may
# let eager updates write their new values over the old ones, as a compiled step with
# donated buffers does. Without that, an eager optimizer allocates a fresh array for every
# weight and slot on every step, and those page faults cost more than the arithmetic.

@contextlib.contextmanager
def donated(arrays):
    """Inside, `is_donated(a)` is True for these arrays: code may overwrite them in place."""
    s = _get("donated")
    s.append({id(a): a for a in arrays})
    try:
        yield
    finally:
        s.pop()


def is_donated(array):
    s = _get("donated")
    return bool(s) and s[-1].get(id(array)) is array


def donated_arrays():
    """The innermost `donated` scope's {id: array}, or None (to test several arrays with
    one lookup of the scope)."""
    s = _local.donated
    return s[-1] if s else None
