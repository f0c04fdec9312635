"""`gk.jit`: trace a Python function of tensors, layers and models into IR, optimize it,
compile it, and cache the result per call signature.

    @gk.jit
    def step(x, y): ...

    f = gk.jit(fn, static_argnames=("training",))
    f(x, training=True)             # traces, compiles, runs
    f.lower(x, training=True)       # Lowered: .as_text(stage), .stats(), .compile()
    f.cache_info()                  # {"traces", "hits", "misses", "entries", "reasons"}

The cache key is the call's signature (structure, shapes and dtypes, static values,
floatx; see cache_key.py); an entry also checks that the variables its trace touched
still exist. Variables the function reads are fed from their current values; variables it
assigns are written back after the call, so updates are visible exactly as in eager mode.
Each retrace is logged on the "graphkit.jit" logger with its reason (INFO; WARNING once a
function has traced more than `WARN_AFTER` times).

The function runs eagerly (no trace) when `gk.config.set_jit_enabled(False)` was called, when
a GradientTape is recording (so the tape sees every op), inside a state scope such as a
stateless call (whose variable values are not the variables' own), inside another
trace (it is then inlined into the outer graph), and while `gk.debugging`'s check numerics
is on (only eager ops can name the first op that made a NaN or an Inf).
"""
import functools
import logging
import weakref

import numpy as np

from graphkit import config
from graphkit.compiler import cache_key, explain
from graphkit.compiler.stages import Lowered, run
from graphkit.core.scopes import current_state_scope
from graphkit.core.tensor import Tensor
from graphkit.ir.passes.manager import DEFAULT_PIPELINE, run_pipeline
from graphkit.ir.tracer import TraceInfo, current_trace, trace_function
from graphkit.ops.primitive import ACTIVE_TAPES

log = logging.getLogger("graphkit.jit")
WARN_AFTER = 8

# (file, first line, qualified name) -> number of distinct jitted functions that traced there.
_TRACED_SITES = {}


class _CallSpec:
    """One call's arguments split into dynamic leaves and static values, and its signature."""

    def __init__(self, jitted, args, kwargs):
        self.name = jitted.__name__
        self._jitted = jitted
        self.split = cache_key.StaticSplit(jitted._positional_names, args, kwargs,
                                           jitted.static_argnames, jitted.static_argnums)
        self.dyn_args, self.dyn_kwargs = self.split.args, self.split.kwargs
        self.signature, self._flat = cache_key.signature_of(self.dyn_args, self.dyn_kwargs,
                                                            self.split.by_name)

    def flat_dynamic(self, args, kwargs):
        other = _CallSpec(self._jitted, args, kwargs)
        return other.flat(), other.signature

    def flat(self):
        """The dynamic leaves, in the order of the trace's `arg_leaves`."""
        return self._flat

    def call_fn(self, *dyn_args, **dyn_kwargs):
        """The user function, called with the static arguments put back in place."""
        args, kwargs = self.split.rebuild(dyn_args, dyn_kwargs)
        return self._jitted.fn(*args, **kwargs)


class _Entry:
    """A cache entry: the executable and how to call it. Variables are held weakly, so a
    cached trace never keeps a discarded model alive, and an entry whose variables are gone
    is stale."""

    def __init__(self, lowered, compiled):
        info = lowered.info
        self.executable = compiled.executable
        self.arg_leaves, self.out_leaves = info.arg_leaves, info.out_leaves
        self.out_tree = info.out_tree
        self.reads = [weakref.ref(v) for v in info.var_reads]
        self.writes = [weakref.ref(v) for v in info.var_writes]
        self.paths = [v.path for v in info.var_reads + info.var_writes]

    def stale_reason(self):
        for ref, path in zip(self.reads + self.writes, self.paths):
            if ref() is None:
                return f"variable '{path}' touched by the cached trace no longer exists"
        return None

    def run(self, flat):
        info = TraceInfo()
        info.arg_leaves, info.out_leaves, info.out_tree = \
            self.arg_leaves, self.out_leaves, self.out_tree
        info.var_reads = [r() for r in self.reads]
        info.var_writes = [r() for r in self.writes]
        return run(info, self.executable, flat)


class JitFunction:
    def __init__(self, fn, static_argnames=(), static_argnums=(), backend=None,
                 pipeline=DEFAULT_PIPELINE):
        if not callable(fn):
            raise TypeError(f"gk.jit: expected a callable, received {type(fn).__name__}")
        self.fn = fn
        self.static_argnames = _as_tuple(static_argnames, "static_argnames", str)
        self.static_argnums = _as_tuple(static_argnums, "static_argnums", int)
        self.backend = backend
        self.pipeline = pipeline
        self._positional_names = cache_key.positional_names(fn)
        functools.update_wrapper(self, fn, updated=())
        if not hasattr(self, "__name__"):
            self.__name__ = getattr(fn, "name", type(fn).__name__)
        self._cache = {}         # signature key -> _Entry
        self._fast = {}          # _fast_key -> _Entry (a shortcut to entries of _cache)
        self._signatures = []    # signatures traced, for explanations
        self._stats = {"traces": 0, "hits": 0, "misses": 0, "reasons": []}

    # -- calling ----------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        if self._run_eagerly():
            return self.fn(*args, **kwargs)
        fast = self._fast_key(args, kwargs)
        if fast is not None:
            entry = self._fast.get(fast)
            if entry is not None and entry.stale_reason() is None:
                self._stats["hits"] += 1
                return entry.run(args)
        call = _CallSpec(self, args, kwargs)
        entry = self._cache.get(call.signature.key)
        reason = entry.stale_reason() if entry is not None else None
        if entry is None or reason is not None:
            entry = self._compile(call, [reason] if reason else None)
        else:
            self._stats["hits"] += 1
        flat = call.flat()
        if fast is not None and len(flat) == len(args) and all(
                a is b for a, b in zip(flat, args)):
            self._fast[fast] = entry
        return entry.run(flat)

    def _fast_key(self, args, kwargs):
        """A cheap key for the common call (positional arrays only, nothing static), or None.

        The full signature flattens the argument tree (~5 us per call, as much as a small
        graph's native run). When every argument is a leaf array, the leaf types, shapes and
        dtypes and floatx decide the signature, so they can map straight to the entry that
        the full path chose (recorded only when its flat leaves are exactly `args`)."""
        if kwargs or self.static_argnums or self.static_argnames:
            return None
        key = [config.floatx()]
        for a in args:
            t = type(a)
            if t is not np.ndarray and t is not Tensor:
                return None
            arr = a._array if t is Tensor else a
            key.append((t, arr.shape, arr.dtype))
        return tuple(key)

    def _run_eagerly(self):
        return (not config.jit_enabled() or config.check_numerics_enabled()
                or current_trace() is not None
                or any(t._recording for t in ACTIVE_TAPES) or current_state_scope() is not None)

    def _compile(self, call, reasons=None):
        self._stats["misses"] += 1
        if reasons is None:
            self._explain(call)
        else:
            self._log(self._stats["traces"] + 1, reasons)
        lowered = self._lower(call)
        entry = _Entry(lowered, lowered.compile())
        self._cache[call.signature.key] = entry
        self._signatures.append(call.signature)
        return entry

    def _explain(self, call):
        """Log why this call traces (nothing for a function's very first trace)."""
        n = self._stats["traces"] + 1
        if self._signatures:
            reasons = explain.differences(explain.closest(call.signature, self._signatures),
                                          call.signature)
            reasons = reasons or ["the signature is new"]
        else:
            site = _site(self.fn)
            seen = _TRACED_SITES.get(site, 0)
            _TRACED_SITES[site] = seen + 1
            if not seen:
                return []
            reasons = [f"gk.jit was applied again to {self.__name__} ({site[0]}:{site[1]}), "
                       "and a new jitted function starts with an empty cache; apply gk.jit "
                       "once and reuse the result"]
        self._log(n, reasons)
        return reasons

    def _log(self, n, reasons):
        self._stats["reasons"].extend(reasons)
        level = logging.WARNING if n > WARN_AFTER else logging.INFO
        log.log(level, explain.retrace_message(self.__name__, n, reasons))

    def _lower(self, call):
        self._stats["traces"] += 1
        graph, info = trace_function(call.call_fn, call.dyn_args, call.dyn_kwargs,
                                     name=self.__name__)
        traced_text = str(graph)
        result = run_pipeline(graph, self.pipeline, verify_each=True, input_stage="traced")
        return Lowered(call, traced_text, result, info, self.backend)

    # -- staged API -------------------------------------------------------------------------
    def lower(self, *args, **kwargs):
        """Trace and optimize for these arguments, without compiling or caching."""
        return self._lower(_CallSpec(self, args, kwargs))

    def cache_info(self):
        info = dict(self._stats)
        info["reasons"] = list(info["reasons"])
        info["entries"] = len(self._cache)
        return info

    def clear_cache(self):
        self._cache.clear()
        self._fast.clear()

    def __get__(self, obj, objtype=None):
        """`@gk.jit` on a method: bind `self` as a static (by identity) first argument."""
        if obj is None:
            return self
        return functools.partial(self, obj)

    def __repr__(self):
        return f"<gk.jit {self.__name__}: {self._stats['traces']} traces>"


def _site(fn):
    """What identifies "the same function": its code and the objects its closure holds (a
    factory called for two models makes two different functions)."""
    code = getattr(fn, "__code__", None) or getattr(getattr(fn, "__call__", None), "__code__",
                                                    None)
    if code is None:
        return (type(fn).__name__, 0, id(fn))
    cells = []
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            cells.append(id(cell.cell_contents))
        except ValueError:  # an empty cell
            cells.append(None)
    return (code.co_filename, code.co_firstlineno, id(code), tuple(cells))


def _as_tuple(value, what, kind):
    items = (value,) if isinstance(value, kind) else tuple(value or ())
    for v in items:
        if not isinstance(v, kind):
            raise TypeError(f"gk.jit: `{what}` must hold {kind.__name__}s, received {v!r}")
    return items


def jit(fn=None, *, static_argnames=(), static_argnums=(), backend=None,
        pipeline=DEFAULT_PIPELINE):
    """Compile `fn`; usable as `@gk.jit`, `@gk.jit(static_argnames=...)` or `gk.jit(fn)`."""
    if fn is None:
        return functools.partial(jit, static_argnames=static_argnames,
                                 static_argnums=static_argnums, backend=backend,
                                 pipeline=pipeline)
    return JitFunction(fn, static_argnames, static_argnums, backend, pipeline)
