"""`gk.jit`: trace a Python function of tensors, layers and models into IR, optimize it,
compile it, and cache the result per call signature.

    @gk.jit
    def step(x, y): ...

    f = gk.jit(fn, static_argnames=("training",))
    f(x, training=True)             # traces, compiles, runs
    f.lower(x, training=True)       # Lowered: .as_text(stage), .stats(), .compile()
    f.cache_info()                  # {"traces", "hits", "misses", "entries", "reasons"}
    g = gk.jit(step, donate_argnums=(0,))  # step may overwrite the arrays of argument 0

`donate_argnums` (as in JAX) names positional arguments whose arrays the compiled code may
reuse for its outputs: an output is then written in place over a donated input of its type
(when the memory plan finds that safe) and returned as that very array. A train step
donates its state, so weights and optimizer slots are updated in place. Donated arrays must
not be used by the caller after the call except through the outputs.

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

Per-call cost matters for small graphs (a batch of one through a few Dense layers runs in
well under a microsecond of native code). A call whose arguments are all positional arrays
or Tensors, with nothing static, is keyed by floatx and their shapes and dtypes alone and
goes straight to the entry's `stages.CallPlan`; staleness is a flag set by weakref
callbacks. The backend binds arrays by identity (weights come back as the same objects)
and takes small outputs from an `executable.OutputRing`.
"""
import contextlib
import functools
import gc
import inspect
import logging
import weakref

import numpy as np

from graphkit import config, tree
from graphkit.compiler import cache_key
from graphkit.compiler.executable import prepare_backend
from graphkit.compiler.stages import CallPlan, Lowered
from graphkit.core import scopes as scopes_module
from graphkit.core.tensor import Tensor
from graphkit.ir.passes.manager import DEFAULT_PIPELINE, run_pipeline
from graphkit.ir import tracer as tracer_module
from graphkit.ir.tracer import trace_function
from graphkit.ops.primitive import ACTIVE_TAPES

log = logging.getLogger("graphkit.jit")
_CONFIG = config._state  # read directly, as Tensor does: the call path tests it every call
_TRACES = tracer_module._local   # thread-local: .traces, the active Trace stack
_SCOPES = scopes_module._local   # thread-local: .state, the active StateScope stack
WARN_AFTER = 8

# (file, first line, qualified name) -> number of distinct jitted functions that traced there.
_TRACED_SITES = {}


@contextlib.contextmanager
def _collector_paused():
    """Pause Python's cyclic garbage collector while compiling: tracing and lowering
    allocate hundreds of thousands of short-lived objects, which set off full collections
    (25-100 ms each on a cold compile) that find almost nothing, since the graphs are freed
    by reference counting. Collection resumes, as it was, when the compilation ends."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


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
    """A cache entry: the executable and its CallPlan. Variables are held weakly, so a
    cached trace never keeps a discarded model alive, and an entry whose variables are gone
    is stale."""

    def __init__(self, lowered, compiled):
        info = lowered.info
        call = lowered._call
        self._objects = [_weak_or_strong(o) for o in cache_key.identity_keyed(
            call.flat(), call.signature.specs, call.signature.statics)]
        self.executable = compiled.executable
        self.plan = CallPlan(info, compiled.executable)
        self._vars = [weakref.ref(v) for v in info.var_reads + info.var_writes]
        self.paths = [v.path for v in info.var_reads + info.var_writes]
        # How the executable's params and outputs map to the call (see `entry_for`).
        self.arg_leaves, self.out_leaves = tuple(info.arg_leaves), tuple(info.out_leaves)
        self.out_tree = info.out_tree
        self.touches_variables = bool(self._vars)

    def stale_reason(self):
        for ref in self._objects:
            if ref() is None:
                return ("an argument object of the cached trace no longer exists (the key "
                        "knows objects by id, which a new object may reuse)")
        if self.plan.alive:
            return None
        for ref, path in zip(self._vars, self.paths):
            if ref() is None:
                return f"variable '{path}' touched by the cached trace no longer exists"
        return None

    def run(self, flat):
        return self.plan(flat)


class JitFunction:
    def __init__(self, fn, static_argnames=(), static_argnums=(), backend=None,
                 pipeline=DEFAULT_PIPELINE, donate_argnums=()):
        if not callable(fn):
            raise TypeError(f"gk.jit: expected a callable, received {type(fn).__name__}")
        self.fn = fn
        self.static_argnames = _as_tuple(static_argnames, "static_argnames", str)
        self.static_argnums = _as_tuple(static_argnums, "static_argnums", int)
        self.donate_argnums = _as_tuple(donate_argnums, "donate_argnums", int)
        both = sorted(set(self.donate_argnums) & set(self.static_argnums))
        if both:
            raise ValueError(f"gk.jit: arguments {both} cannot be both static and donated")
        self.backend = backend
        self.pipeline = pipeline
        self._positional_names = cache_key.positional_names(fn)
        _check_static_names(fn, self.static_argnames)
        functools.update_wrapper(self, fn, updated=())
        if not hasattr(self, "__name__"):
            self.__name__ = getattr(fn, "name", type(fn).__name__)
        self._cache = {}         # signature key -> _Entry
        self._fast = {}          # _fast_key -> CallPlan of an entry of _cache (a shortcut)
        self._fast_ok = not (self.static_argnums or self.static_argnames)
        self._fast_hits = 0      # cache hits on the fast path (added to _stats["hits"])
        self._signatures = []    # signatures traced, for explanations
        self._stats = {"traces": 0, "hits": 0, "misses": 0, "reasons": []}

    # -- calling ----------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        # The fast path: positional arrays whose (shape, dtype) key maps to an entry that
        # is alive. It checks exactly what the full path checks, in ~1 us instead of ~6.
        if not kwargs and self._fast_ok:
            plan = self._fast.get(_fast_key(args))
            if plan is not None and plan.alive and not _run_eagerly():
                self._fast_hits += 1
                return plan.call_arrays(args)
        if self._run_eagerly():
            return self.fn(*args, **kwargs)
        call = _CallSpec(self, args, kwargs)
        entry = self._cache.get(call.signature.key)
        reason = entry.stale_reason() if entry is not None else None
        if entry is None or reason is not None:
            entry = self._compile(call, [reason] if reason else None)
        else:
            self._stats["hits"] += 1
        flat = call.flat()
        if (not kwargs and self._fast_ok and len(flat) == len(args)
                and all(a is b for a, b in zip(flat, args))):
            key = _fast_key(args)
            if key is not None:
                self._fast[key] = entry.plan
        return entry.run(flat)

    @staticmethod
    def _run_eagerly():
        return _run_eagerly()

    def _compile(self, call, reasons=None):
        self._stats["misses"] += 1
        if reasons is None:
            self._explain(call)
        else:
            self._log(self._stats["traces"] + 1, reasons)
        # Recorded before tracing: a trace that raises still explains the next one.
        self._signatures.append(call.signature)
        prepare_backend(self.backend)   # e.g. the llvm backend's thread pool, meanwhile
        with _collector_paused():
            lowered = self._lower(call)
            entry = _Entry(lowered, lowered.compile())
        self._cache[call.signature.key] = entry
        return entry

    def _explain(self, call):
        """Log why this call traces (nothing for a function's very first trace)."""
        n = self._stats["traces"] + 1
        if self._signatures:
            from graphkit.compiler import explain  # retraces only: not on a first call's path
            reasons = explain.differences(explain.closest(call.signature, self._signatures),
                                          call.signature)
            reasons = reasons or ["the last trace for this signature raised an error"]
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
        from graphkit.compiler import explain
        self._stats["reasons"].extend(reasons)
        level = logging.WARNING if n > WARN_AFTER else logging.INFO
        log.log(level, explain.retrace_message(self.__name__, n, reasons))

    def _lower(self, call):
        self._stats["traces"] += 1
        graph, info = trace_function(call.call_fn, call.dyn_args, call.dyn_kwargs,
                                     name=self.__name__)
        traced_text = str(graph)
        if self.donate_argnums:
            graph.annotations["donated"] = _donated_params(graph, info, call,
                                                           self.donate_argnums)
        # The donated annotation is not part of the text: traced_text is the input's text.
        result = run_pipeline(graph, self.pipeline, verify_each=True, input_stage="traced",
                              input_text=traced_text)
        return Lowered(call, traced_text, result, info, self.backend)

    # -- staged API -------------------------------------------------------------------------
    def entry_for(self, *args, **kwargs):
        """The compiled cache entry a call with these arguments runs, or None when there is
        none yet (nothing is traced or run). For callers that feed the executable directly
        call after call (the trainer's step): `executable`, `arg_leaves` (flat argument leaf
        per param), `out_leaves` and `out_tree`, `touches_variables`, `stale_reason()`."""
        entry = self._cache.get(_CallSpec(self, args, kwargs).signature.key)
        return entry if entry is not None and entry.stale_reason() is None else None

    def lower(self, *args, **kwargs):
        """Trace and optimize for these arguments, without compiling or caching."""
        return self._lower(_CallSpec(self, args, kwargs))

    def cache_info(self):
        info = dict(self._stats)
        info["hits"] += self._fast_hits
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


def _weak_or_strong(obj):
    """A weak reference to `obj`, or a strong one when it takes no weak references (it then
    lives as long as the entry, so its id cannot be reused)."""
    try:
        return weakref.ref(obj)
    except TypeError:
        return lambda: obj


def _run_eagerly():
    """True when a call must run the Python function instead of compiled code (see the
    module docstring). This runs on every call, so the trace stack and the state-scope stack
    are read directly (the thread-local lists behind `current_trace` and
    `current_state_scope`: empty or absent means none is active)."""
    return (not _CONFIG["jit_enabled"] or _CONFIG["check_numerics"]
            or getattr(_TRACES, "traces", None)
            or (ACTIVE_TAPES and any(t._recording for t in ACTIVE_TAPES))
            or getattr(_SCOPES, "state", None))


def _fast_key(args):
    """A cheap key for the common call (positional arrays only, nothing static), or None.

    The full signature flattens the argument tree (~5 us per call, as much as a small
    graph's native run). When every argument is a leaf array (ndarray or Tensor), floatx
    and the leaves' shapes and dtypes decide the signature, so they can map straight to the
    entry that the full path chose (recorded only when its flat leaves are exactly `args`)."""
    if len(args) == 1:  # the most common call, without the loop
        a = args[0]
        t = type(a)
        if t is Tensor:
            if a._keras_mask is not None:  # the mask is an input too: the full path
                return None
            a = a._array
        elif t is not np.ndarray:
            return None
        return (_CONFIG["floatx"], a.shape, a.dtype)
    key = [_CONFIG["floatx"]]
    for a in args:
        t = type(a)
        if t is Tensor:
            if a._keras_mask is not None:
                return None
            a = a._array
        elif t is not np.ndarray:
            return None
        key.append(a.shape)
        key.append(a.dtype)
    return tuple(key)


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


def _donated_params(graph, info, call, donate_argnums):
    """Names of the graph params fed by leaves of the donated positional arguments."""
    statics = sorted(call.split.positional)
    flat_ranges, start = [], 0
    for a in call.dyn_args:   # leaves are flattened args first, in order (signature_of)
        n = len(tree.flatten(a))
        flat_ranges.append(range(start, start + n))
        start += n
    donated = set()
    for i in donate_argnums:
        j = i - sum(1 for s in statics if s < i)
        if 0 <= j < len(flat_ranges):
            donated.update(flat_ranges[j])
    return {graph.params[k].name for k, leaf in enumerate(info.arg_leaves) if leaf in donated}


def _check_static_names(fn, names):
    """A static name that `fn` does not take would silently be traced: a typo, say so."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # builtins and C callables: nothing to check against
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    for name in names:
        if name not in params:
            from graphkit.errors import close_matches
            near = close_matches(name, list(params))
            hint = f" Did you mean {near[0]!r}?" if near else ""
            raise ValueError(f"gk.jit: static_argnames names {name!r}, which "
                             f"{getattr(fn, '__name__', 'the function')} does not take "
                             f"(its parameters: {list(params)}).{hint}")


def _as_tuple(value, what, kind):
    items = (value,) if isinstance(value, kind) else tuple(value or ())
    for v in items:
        if not isinstance(v, kind):
            raise TypeError(f"gk.jit: `{what}` must hold {kind.__name__}s, received {v!r}")
    return items


def jit(fn=None, *, static_argnames=(), static_argnums=(), backend=None,
        pipeline=DEFAULT_PIPELINE, donate_argnums=()):
    """Compile `fn`; usable as `@gk.jit`, `@gk.jit(static_argnames=...)` or `gk.jit(fn)`."""
    if fn is None:
        return functools.partial(jit, static_argnames=static_argnames,
                                 static_argnums=static_argnums, backend=backend,
                                 pipeline=pipeline, donate_argnums=donate_argnums)
    return JitFunction(fn, static_argnames, static_argnums, backend, pipeline, donate_argnums)
