"""The "llvm" backend: a whole optimized graph as native code over one planned arena.

    exe = LLVMExecutable(graph)      # lower every kernel, build (or load cached) object code
    outs = exe.run([x, w, ...])      # one native call per native segment, fresh outputs

Buffers: every value of the graph lives in a *slot* of one pointer table: the params (the
caller's arrays, rebound each run), the kernel outputs that leave the graph (fresh arrays
each run, so outputs are never views of reused memory), constants (copied once), the
intermediates at their offsets in the arena of `graph.annotations["memory_plan"]`, scratch
buffers of multi-step kernels and one shared matmul workspace. Reshapes are views: they use
their storage root's slot.

Kernels are lowered by lower_kernel.py into one LLVM module with one entry function per
*segment* of consecutive native kernels; a graph whose kernels all lower is one segment,
so `run` is one native call. A kernel that cannot be lowered either raises `LoweringError`
(naming the kernel, the op and the stage; `fallback=False`, or GRAPHKIT_LLVM_FALLBACK=0) or
runs through the interpreter between segments (logged once on "graphkit.codegen", listed
in `stats()["interpreted_kernels"]`).

The object code is cached on disk keyed by the optimized graph's text, the codegen version
and the target, so a warm process runs no LLVM optimize or codegen (it still builds the
llvmlite module in Python, which is where the entry layout comes from).
"""
import ctypes
import logging
import os

import numpy as np
from llvmlite import ir

from graphkit.codegen import build as build_mod
from graphkit.codegen import parallel
from graphkit.codegen.llvm_types import I64, PTR, VOID
from graphkit.codegen.lower_kernel import Unsupported, lower_kernel
from graphkit.codegen.runtime import Arena
from graphkit.codegen.target import CODEGEN_VERSION
from graphkit.compiler.executable import Executable, register_backend
from graphkit.ir.graph import CONSTANT, KERNEL
from graphkit.ir.interpreter import interpret
from graphkit.ir.passes import memory_plan as memory_plan_pass
from graphkit.ir.passes.fusion import VIEW_OPS

log = logging.getLogger("graphkit.codegen")
BACKEND_VERSION = 1


class LoweringError(RuntimeError):
    """A kernel of the graph cannot be lowered to native code."""


def _fallback_default():
    return os.environ.get("GRAPHKIT_LLVM_FALLBACK", "1") not in ("0", "false", "no")


class LLVMExecutable(Executable):
    backend = "llvm"

    def __init__(self, graph, fallback=None):
        super().__init__(graph)
        self.fallback = _fallback_default() if fallback is None else fallback
        plan = graph.annotations.get("memory_plan") or memory_plan_pass.plan(graph)
        self._plan = plan
        self._root = _storage_roots(graph)
        self._layout_slots(plan)
        self.interpreted = []
        self._module = ir.Module(name=f"gk_{graph.name}")
        self._segments = self._lower_all()
        self._link()

    # -- slots -------------------------------------------------------------------------------
    def _layout_slots(self, plan):
        g = self.graph
        self._slot_of = {}
        self._fixed = []          # (slot, address or array) bound once
        self._n_slots = 0
        for p in g.params:
            self._slot_of[p] = self._new_slot()
        self._param_slots = [self._slot_of[p] for p in g.params]
        self._bound_inputs = [None] * len(g.params)   # the arrays the table points at now
        self.arena = Arena(max(64, plan.arena_bytes))
        self._constants = {}
        self._fresh = []          # kernel outputs with buffers of their own (fresh per run)
        for node in g.nodes:
            if node.op == CONSTANT:
                arr = np.ascontiguousarray(np.asarray(node.value))
                self._constants[node.outputs[0]] = arr
                self._fixed_slot(node.outputs[0], arr)
            elif node.op == KERNEL:
                for o in node.outputs:
                    if o.name in plan.assignment:
                        self._fixed_slot(o, self.arena.pointer(plan.offset(o.name)))
                    else:
                        self._slot_of[o] = self._new_slot()
                        self._fresh.append(o)
            elif node.op not in VIEW_OPS:
                raise LoweringError(f"@{g.name}: node '{node.op}' is not a kernel, constant "
                                    "or view (stage: lowering)")

    def _new_slot(self):
        self._n_slots += 1
        return self._n_slots - 1

    def _fixed_slot(self, value, target):
        s = self._new_slot()
        self._slot_of[value] = s
        self._fixed.append((s, target))
        return s

    def slot(self, value):
        return self._slot_of[self._root.get(value, value)]

    # -- lowering ------------------------------------------------------------------------------
    def _lower_all(self):
        """[("native", entry name, [steps]) | ("interpret", node)] in execution order."""
        segments, steps = [], []
        self._scratch = []        # arrays owned for the executable's lifetime
        self._workspace = 0
        in_place = {o for o, _ in self._plan.in_place}
        for node in self.graph.nodes:
            if node.op != KERNEL:
                continue
            before = set(self._module.globals)
            try:
                lowering = lower_kernel(self._module, node)
                if len(lowering.subkernels) > 1 and any(o.name in in_place
                                                        for o in node.outputs):
                    raise Unsupported(f"kernel {node.attrs['name']}: in-place output over "
                                      "several sub-kernels")
            except Exception as e:  # noqa: BLE001 - any failure: this kernel is not native
                _forget_globals(self._module, before)
                if not self.fallback:
                    raise LoweringError(f"@{self.graph.name}: {e} (stage: lowering)") from e
                self._note_interpreted(node, e)
                if steps:
                    segments.append(("native", f"entry{len(segments)}", steps))
                    steps = []
                segments.append(("interpret", node))
                continue
            scratch_slots = []
            for shape, dtype in lowering.scratch:
                arr = _aligned_empty(shape, dtype)
                self._scratch.append(arr)
                scratch_slots.append(self._new_slot())
                self._fixed.append((scratch_slots[-1], arr))
            for sk in lowering.subkernels:
                slots = [scratch_slots[k[1]] if k[0] == "scratch" else self.slot(k[1])
                         for k in sk.args]
                if sk.workspace:
                    self._workspace = max(self._workspace, sk.workspace)
                    slots.append("workspace")
                steps.append((sk.name, slots))
        if steps:
            segments.append(("native", f"entry{len(segments)}", steps))
        return segments

    def _note_interpreted(self, node, why):
        name = node.attrs["name"]
        self.interpreted.append({"kernel": name, "kind": node.attrs["kind"],
                                 "reason": str(why)})
        log.info("llvm backend: @%s kernel %s runs on the interpreter: %s",
                 self.graph.name, name, why)

    def _emit_entries(self):
        ws_slot = self._new_slot() if self._workspace else None
        for seg in self._segments:
            if seg[0] != "native":
                continue
            _, entry, steps = seg
            fn = ir.Function(self._module, ir.FunctionType(VOID, [PTR]), entry)
            b = ir.IRBuilder(fn.append_basic_block("entry"))
            table = fn.args[0]
            for kernel, slots in steps:
                slots = [ws_slot if s == "workspace" else s for s in slots]
                arr = b.alloca(PTR, size=I64(len(slots)))
                for k, s in enumerate(slots):
                    p = b.load(b.gep(table, [I64(s)], source_etype=PTR), typ=PTR)
                    b.store(p, b.gep(arr, [I64(k)], source_etype=PTR))
                b.call(self._module.get_global(kernel), [arr])
            b.ret_void()
        if ws_slot is not None:
            ws = _aligned_empty((self._workspace,), "uint8")
            self._scratch.append(ws)
            self._fixed.append((ws_slot, ws))

    def _link(self):
        self._emit_entries()
        self._table = (ctypes.c_void_p * max(1, self._n_slots))()
        self._table_addr = ctypes.addressof(self._table)
        for s, target in self._fixed:
            self._table[s] = target.ctypes.data if isinstance(target, np.ndarray) else target
        entries = [seg[1] for seg in self._segments if seg[0] == "native"]
        self._calls = {}
        if not entries:
            return
        parallel.runtime()  # kernels call the pool: its symbol must resolve at link time
        key = "\n".join([f"graphkit-llvm-backend {BACKEND_VERSION} codegen {CODEGEN_VERSION}",
                         str(self.graph), repr(self.interpreted)])
        self._library = build_mod.build(self._module, entries, label=_label(self.graph.name),
                                        key_source=key)
        for e in entries:
            self._calls[e] = self._library.function(e, None, ctypes.c_void_p)

    # -- running -------------------------------------------------------------------------------
    def run(self, inputs):
        g = self.graph
        table = self._table
        if len(inputs) != len(g.params):
            raise ValueError(f"@{g.name} (llvm backend) takes {len(g.params)} inputs, "
                             f"received {len(inputs)}")
        arrays = {}
        bound = self._bound_inputs
        for i, (p, s, x) in enumerate(zip(g.params, self._param_slots, inputs)):
            # Reading `.ctypes.data` costs ~1 us; weights come back as the same array object
            # call after call, and an array object never moves its buffer while we hold it.
            if x is bound[i]:
                arrays[p] = x
                continue
            if not (isinstance(x, np.ndarray) and x.flags.c_contiguous
                    and x.dtype == p.type.dtype):
                x = np.ascontiguousarray(x, dtype=p.type.dtype)
                bound[i] = None   # a converted copy: the caller's object may change
            else:
                bound[i] = x
            arrays[p] = x
            table[s] = x.ctypes.data
        for o in self._fresh:
            a = np.empty(o.type.shape, o.type.dtype)
            arrays[o] = a
            table[self._slot_of[o]] = a.ctypes.data
        for seg in self._segments:
            if seg[0] == "native":
                self._calls[seg[1]](self._table_addr)
            else:
                self._interpret(seg[1], arrays)
        return self._outputs(arrays)

    def _array(self, value, arrays):
        root = self._root.get(value, value)
        if root in arrays:
            a = arrays[root]
        elif root in self._constants:
            a = self._constants[root]
        else:
            a = self.arena.view(self._plan.offset(root.name), root.type.shape,
                                root.type.dtype)
        return a.reshape(value.type.shape)

    def _interpret(self, node, arrays):
        outs = interpret(node.body, *[self._array(v, arrays) for v in node.operands])
        for o, r in zip(node.outputs, outs):
            np.copyto(self._array(o, arrays), np.asarray(r, dtype=o.type.dtype))

    def _outputs(self, arrays):
        result, handed = [], set()
        for v in self.graph.outputs:
            root = self._root.get(v, v)
            a = self._array(v, arrays)
            if root in self._slot_of and root in arrays and root not in self.graph.params \
                    and root not in handed:
                handed.add(root)
                result.append(a)
            else:
                result.append(np.array(a, copy=True))
        return result

    # -- inspection ----------------------------------------------------------------------------
    def as_text(self, stage="llvm"):
        if stage != "llvm":
            raise ValueError(f"the 'llvm' backend has no {stage!r} text; expected 'llvm'")
        return str(self._module)

    def stats(self):
        kernels = sum(1 for n in self.graph.nodes if n.op == KERNEL)
        return {"kernels": kernels, "native_kernels": kernels - len(self.interpreted),
                "interpreted_kernels": list(self.interpreted),
                "native_calls_per_run": sum(1 for s in self._segments if s[0] == "native"),
                "arena_bytes": self.arena.nbytes}


def _forget_globals(module, keep):
    """Drop what a failed kernel lowering added to the module (half-emitted functions)."""
    for name in set(module.globals) - keep:
        del module.globals[name]
        module.scope._useset.discard(name)


def _storage_roots(graph):
    root = {}
    for node in graph.nodes:
        if node.op in VIEW_OPS:
            src = node.operands[0]
            root[node.outputs[0]] = root.get(src, src)
    return root


def _aligned_empty(shape, dtype):
    dtype = np.dtype(dtype)
    n = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.zeros(n + 64, np.uint8)
    start = (-raw.ctypes.data) % 64
    return raw[start:start + n].view(dtype).reshape(shape)


def _label(name):
    return "".join(c if c.isalnum() else "_" for c in name)[:40] or "graph"


def _enabled():
    """Registration gate: GRAPHKIT_BACKEND=interpreter keeps the reference backend default."""
    return os.environ.get("GRAPHKIT_BACKEND", "llvm") != "interpreter"


if _enabled():
    register_backend("llvm", LLVMExecutable)
