"""The seam between `gk.jit` and whatever runs an optimized graph.

A backend is a callable `compile(graph) -> Executable`, registered by name:

    # graphkit/codegen/backend.py (imported by `default_backend()` if it exists)
    from graphkit.compiler.executable import Executable, register_backend

    class LLVMExecutable(Executable):
        backend = "llvm"
        def __init__(self, graph): ...          # compile (or load from the disk cache)
        def run(self, inputs): ...               # list of ndarrays -> list of ndarrays
        def as_text(self, stage="llvm"): ...     # the LLVM IR, for Lowered.as_text("llvm")

    register_backend("llvm", LLVMExecutable)

What `graph` is (the output of the full pipeline, verified; do not mutate it):
- `graph.params`: the inputs, in order; `p.type.shape` (tuple of ints), `p.type.dtype` (str).
  `run` receives one C-contiguous ndarray per param, of exactly that shape and dtype.
- `graph.nodes`, in execution order, are of three ops only:
  * "kernel": `node.body` is a Graph (params = `node.operands`, outputs = `node.outputs`),
    `node.attrs["name"]` ("k0"...) and `node.attrs["kind"]`; `ir.KernelInfo(node)` gives
    the kind, iteration `space`, `anchor`, `reduce_axes`, per-node `levels` (reductions) and
    `transposed_operands` (matmul). See graphkit/ir/kernel.py for each kind's meaning.
    Body nodes are primitives: `n.op`, `n.attrs`, `n.primitive` (category, scalar_expr),
    operand/output types; `full` may appear in bodies, constants never do;
  * "constant": `node.value` is the ndarray (read-only data);
  * "reshape": a view, same bytes as its operand with a new shape.
- `graph.outputs`: values to return, in order; an output may be a param, a constant, a
  view, or a kernel output, and the same value may appear twice.
- `graph.annotations["memory_plan"]` (graphkit/ir/passes/memory_plan.py): `slots`
  [(offset, size)], `assignment` {value name: slot index} for every intermediate kernel
  output (not params, constants or graph outputs), `views` {view name: storage root name},
  `in_place` [(output, operand)] pairs sharing a slot, `arena_bytes`.

`run` must return fresh arrays the caller may keep (never views into a reused arena), with
exactly the output types. The interpreter backend below is the reference: same inputs, same
outputs (to float tolerance).
"""
import abc
import importlib

import numpy as np

from graphkit.ir.interpreter import interpret


class Executable(abc.ABC):
    """Base class of compiled graphs."""

    backend = "abstract"

    def __init__(self, graph):
        self.graph = graph

    @abc.abstractmethod
    def run(self, inputs):
        """list of input ndarrays (param order) -> list of output ndarrays (output order)."""

    def as_text(self, stage="llvm"):
        raise ValueError(f"the {self.backend!r} backend has no {stage!r} text")

    def __repr__(self):
        return f"<{type(self).__name__} backend={self.backend} graph=@{self.graph.name}>"


class InterpreterExecutable(Executable):
    """Runs the optimized graph with the NumPy kernels (the reference backend)."""

    backend = "interpreter"

    def run(self, inputs):
        outs = interpret(self.graph, *inputs)
        # Outputs may alias inputs (an identity output); hand back independent arrays.
        ins = {id(a) for a in inputs}
        return [np.array(o) if id(o) in ins else o for o in outs]

    def as_text(self, stage="llvm"):
        raise ValueError(
            f"as_text({stage!r}): this function runs on the interpreter backend, which "
            "produces no LLVM IR (the LLVM backend in graphkit/codegen is not available)")


class OutputRing:
    """Fresh output arrays for small graphs, without an allocation per call.

    `run` must hand back arrays the caller may keep, so a buffer is never written twice.
    Allocating them one by one costs more than a tiny graph's whole native run (np.empty
    plus reading `.ctypes.data`, ~1 us per array), so the ring carves `depth` calls' worth
    of outputs out of one chunk whose address is read once. `take()` gives the next call's
    output views and writes their addresses into the executable's pointer table (plain
    integer arithmetic); when the chunk is used up a new one is allocated, and the old one
    lives on only as long as the caller keeps one of its results (at most `CHUNK_BYTES`).
    No slot is ever handed out twice, so a kept result never changes. Each output starts on
    a 64-byte boundary.

        ring = OutputRing.for_outputs([((1, 1), "float32")], table, slots)  # None: too big
        arrays = ring.take()            # and table[slots[j]] now holds arrays[j]'s address
    """

    CHUNK_BYTES = 64 * 1024
    MAX_CALL_BYTES = 4096     # bigger outputs: a plain allocation costs little next to the run

    @classmethod
    def for_outputs(cls, specs, table, slots):
        """A ring for outputs [(shape, dtype)] whose addresses go to `table[slots[j]]`, or
        None when they are too big (or there are none)."""
        sizes = [_round_up(max(1, _nbytes(shape, dtype)), 64) for shape, dtype in specs]
        if not specs or sum(sizes) > cls.MAX_CALL_BYTES:
            return None
        return cls(specs, sizes, table, slots)

    def __init__(self, specs, sizes, table, slots):
        self._specs = [(tuple(shape), np.dtype(dtype)) for shape, dtype in specs]
        self._offsets = [sum(sizes[:i]) for i in range(len(sizes))]
        self._stride = sum(sizes)
        self._depth = max(2, self.CHUNK_BYTES // self._stride)
        self._table, self._slots = table, list(slots)
        self._single = len(specs) == 1
        self._next = self._depth  # no chunk yet

    def _new_chunk(self):
        raw = np.empty(self._depth * self._stride + 64, np.uint8)
        start = (-raw.ctypes.data) % 64
        self._base = raw.ctypes.data + start
        # np.ndarray over the buffer with explicit strides: guaranteed views, never copies.
        # A 0-d output is indexed with [i, ...]: [i] would give a NumPy scalar, not an array.
        self._views = []
        for (shape, dtype), off, slot in zip(self._specs, self._offsets, self._slots):
            v = np.ndarray(shape=(self._depth,) + shape, dtype=dtype, buffer=raw,
                           offset=start + off,
                           strides=(self._stride,) + _c_strides(shape, dtype.itemsize))
            self._views.append((v, off, slot, not shape))
        self._next = 0

    def take(self):
        """One call's output arrays (their addresses are now in the table)."""
        i = self._next
        if i == self._depth:
            self._new_chunk()
            i = 0
        self._next = i + 1
        base = self._base + i * self._stride
        table = self._table
        if self._single:  # the common case, without the loop
            v, off, slot, scalar = self._views[0]
            table[slot] = base
            return [v[i, ...] if scalar else v[i]]
        arrays = []
        for v, off, slot, scalar in self._views:
            table[slot] = base + off
            arrays.append(v[i, ...] if scalar else v[i])
        return arrays


def _nbytes(shape, dtype):
    return int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize


def _round_up(x, m):
    return (x + m - 1) // m * m


def _c_strides(shape, itemsize):
    strides, step = [], itemsize
    for d in reversed(shape):
        strides.append(step)
        step *= max(1, d)
    return tuple(reversed(strides))


class CompileError(RuntimeError):
    """A backend failed to compile a graph. The message names the graph, the backend and
    the backend's own error (which should name the kernel and op); `gk.jit` callers that
    asked for a fallback (jit_compile="auto") catch this and run eagerly."""


_BACKENDS = {"interpreter": InterpreterExecutable}
_probed = {"done": False}


def register_backend(name, compile_fn):
    """Make `compile_fn(graph) -> Executable` available as backend `name`."""
    _BACKENDS[name] = compile_fn


def available_backends():
    _probe_codegen()
    return sorted(_BACKENDS)


def default_backend():
    _probe_codegen()
    return "llvm" if "llvm" in _BACKENDS else "interpreter"


def _probe_codegen():
    """Import graphkit.codegen.backend once, if it exists (it registers "llvm")."""
    if _probed["done"]:
        return
    _probed["done"] = True
    try:
        importlib.import_module("graphkit.codegen.backend")
    except ModuleNotFoundError as e:
        if e.name != "graphkit.codegen.backend":
            raise


def prepare_backend(backend=None):
    """Let the named (or default) backend start, on threads of its own, the set-up that its
    first compile needs whatever the graph: called before a trace, so that this set-up
    overlaps tracing and the graph passes. A backend class opts in with a static `prepare`;
    an unknown name is left for `compile_graph` to report."""
    name = backend or default_backend()
    prepare = getattr(_BACKENDS.get(name), "prepare", None)
    if prepare is not None:
        prepare()


def compile_graph(graph, backend=None, graph_text=None):
    """An Executable for an optimized graph, from the named (or default) backend.

    `graph_text`: `str(graph)`, when the caller has it already (the pass pipeline printed
    it, or read it from its cache); a backend whose compile function has a true
    `takes_graph_text` attribute receives it, so it need not print the graph again."""
    name = backend or default_backend()
    if name not in _BACKENDS:
        _probe_codegen()
    if name not in _BACKENDS:
        from graphkit.errors import unknown_identifier
        raise unknown_identifier("backend", name, _BACKENDS)
    try:
        compile_fn = _BACKENDS[name]
        if graph_text is not None and getattr(compile_fn, "takes_graph_text", False):
            return compile_fn(graph, graph_text=graph_text)
        return compile_fn(graph)
    except Exception as e:
        raise CompileError(f"compiling @{graph.name} with the {name!r} backend failed: "
                           f"{type(e).__name__}: {e}") from e
