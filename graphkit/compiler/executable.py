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


def compile_graph(graph, backend=None):
    """An Executable for an optimized graph, from the named (or default) backend."""
    name = backend or default_backend()
    if name not in _BACKENDS:
        _probe_codegen()
    if name not in _BACKENDS:
        from graphkit.errors import unknown_identifier
        raise unknown_identifier("backend", name, _BACKENDS)
    try:
        return _BACKENDS[name](graph)
    except Exception as e:
        raise CompileError(f"compiling @{graph.name} with the {name!r} backend failed: "
                           f"{type(e).__name__}: {e}") from e
