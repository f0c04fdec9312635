"""The "llvm" backend: a whole optimized graph as native code over one planned arena.

    exe = LLVMExecutable(graph)      # lower every kernel, build (or load cached) object code
    outs = exe.run([x, w, ...])      # one native call per native segment, fresh outputs

Buffers: every value of the graph lives in a *slot* of one pointer table: the params (the
caller's arrays, rebound each run), the kernel outputs that leave the graph (fresh arrays
each run, so outputs are never views of reused memory), constants (copied once), the
intermediates at their offsets in the arena of `graph.annotations["memory_plan"]`, scratch
buffers of multi-step kernels and one shared matmul workspace. Reshapes are views: they use
their storage root's slot.

Kernels are lowered by lower_kernel.py into LLVM modules ("chunks", chunks.py: the kernels in
order, ~1200 instructions a module) whose last one holds one entry function per *segment* of
consecutive native kernels; a graph whose kernels all lower is one segment, so `run` is one
native call. Cold, each chunk is compiled as soon as it is lowered, on a second core while
the next ones are lowered (parallel_compile.py), and the objects are linked as one library.
A kernel that cannot be lowered either raises `LoweringError` (naming the kernel, the op and
the stage; `fallback=False`, or GRAPHKIT_LLVM_FALLBACK=0) or runs through the interpreter
between segments (logged once on "graphkit.codegen", listed in
`stats()["interpreted_kernels"]`).

The object code is cached on disk keyed by the optimized graph's text, its memory plan and
slot map, the codegen version and the target, together with the layout that running it needs
(segments, scratch buffers, workspace size, interpreted kernels). A warm process therefore
neither lowers kernels nor builds an llvmlite module, and runs no LLVM optimize or codegen:
it reads one cache entry and links the object (`as_text("llvm")` lowers again on demand).
"""
import ctypes
import logging
import operator
import os

import numpy as np

from graphkit.codegen import build as build_mod
from graphkit.codegen import parallel
from graphkit.codegen.runtime import Arena
from graphkit.codegen.target import CODEGEN_VERSION
from graphkit.compiler.executable import Executable, OutputRing, register_backend
from graphkit.core.variable import ASSIGNMENTS
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
    takes_graph_text = True   # compile_graph passes the text the pipeline already printed

    @staticmethod
    def prepare():
        """Before a trace (executable.prepare_backend): cold, start building the thread
        pool's runtime, which every graph links against (parallel.prepare)."""
        parallel.prepare()

    def __init__(self, graph, fallback=None, graph_text=None):
        super().__init__(graph)
        self._graph_text = graph_text   # str(graph) if known: keys the compiled unit
        self.fallback = _fallback_default() if fallback is None else fallback
        plan = graph.annotations.get("memory_plan") or memory_plan_pass.plan(graph)
        self._plan = plan
        self._root = memory_plan_pass.storage_roots(graph)
        self._layout_slots(plan)
        self._n_layout = self._n_slots   # scratch and workspace slots come after these
        self.interpreted = []
        self._module = None       # the llvmlite module, if this process lowered the graph
        self._compile()
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
        self.bindings = 0         # how many times run() pointed the table at other inputs
        self.arena = Arena(max(64, plan.arena_bytes))
        self._constants = {}
        self._fresh = []          # kernel outputs with buffers of their own (fresh per run)
        self._donated = {}        # kernel output -> the donated param whose buffer it takes
        donated = dict(getattr(plan, "donations", ()))
        params = {p.name: p for p in g.params}
        for node in g.nodes:
            if node.op == CONSTANT:
                arr = np.ascontiguousarray(np.asarray(node.value))
                self._constants[node.outputs[0]] = arr
                self._fixed_slot(node.outputs[0], arr)
            elif node.op == KERNEL:
                for o in node.outputs:
                    if o.name in plan.assignment:
                        self._fixed_slot(o, self.arena.pointer(plan.offset(o.name)))
                    elif o.name in donated:
                        # written in place over a donated param (memory_plan donations): its
                        # storage is the param's array, handed back as the output
                        param = params[donated[o.name]]
                        self._slot_of[o] = self._slot_of[param]
                        self._root[o] = param
                        self._donated[o] = param
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
    def _lower_module(self, session=None):
        """Lower every kernel into new llvmlite modules, without touching the slot table.

        The kernels go into a sequence of modules (chunks.py), the last one holding the
        entries; each full chunk is handed to `session.submit(module, level)` at once, so
        that LLVM compiles it while the next kernels are lowered (and the chunks on several
        cores). The last module is submitted too.

        Returns (modules, layout): `layout` is what running the compiled modules needs
        besides their code (JSON-able, stored next to the object code so a warm process
        skips this): "segments" [["native", entry] | ["interpret", node index]] in execution
        order, "scratch" [[shape, dtype]] (slots `n_layout + j`, in that order), "workspace"
        bytes (slot `n_layout + len(scratch)` when non-zero), "version_slot" (the state
        version cell, the slot after the workspace, when a matmul keeps its B packed; else
        None) and "interpreted" kernels."""
        # Imported here: a warm process loads the compiled unit and never needs the emitters
        # (nor llvmlite.ir).
        from graphkit.codegen.chunks import Chunks
        from graphkit.codegen.lower_kernel import Unsupported, lower_kernel
        chunks = Chunks(f"gk_{self.graph.name}",
                        submit=session.submit if session is not None else None)
        n_layout = self._n_layout
        segments, native, steps = [], [], []
        scratch, workspace, interpreted = [], 0, []
        in_place = {o for o, _ in self._plan.in_place}
        stable = self._stable_values()
        uses_version = False
        for index, node in enumerate(self.graph.nodes):
            if node.op != KERNEL:
                continue
            before = chunks.mark()
            try:
                lowering = lower_kernel(chunks.module, node, stable)
                if len(lowering.subkernels) > 1 and any(o.name in in_place
                                                        for o in node.outputs):
                    raise Unsupported(f"kernel {node.attrs['name']}: in-place output over "
                                      "several sub-kernels")
            except Exception as e:  # noqa: BLE001 - any failure: this kernel is not native
                chunks.forget(before)
                if not self.fallback:
                    raise LoweringError(f"@{self.graph.name}: {e} (stage: lowering)") from e
                interpreted.append({"kernel": node.attrs["name"], "kind": node.attrs["kind"],
                                    "reason": str(e)})
                if steps:
                    native.append((f"entry{len(segments)}", steps))
                    segments.append(["native", native[-1][0]])
                    steps = []
                segments.append(["interpret", index])
                continue
            first_scratch = n_layout + len(scratch)
            scratch.extend([list(shape), str(dtype)] for shape, dtype in lowering.scratch)
            for sk in lowering.subkernels:
                slots = [first_scratch + k[1] if k[0] == "scratch" else
                         "version" if k[0] == "version" else self.slot(k[1]) for k in sk.args]
                uses_version = uses_version or "version" in slots
                if sk.workspace:
                    workspace = max(workspace, int(sk.workspace))
                    slots.append("workspace")
                steps.append((sk.name, slots))
            chunks.added(before, [sk.name for sk in lowering.subkernels])
        if steps:
            native.append((f"entry{len(segments)}", steps))
            segments.append(["native", native[-1][0]])
        level = chunks.level()   # of the last chunk's kernels (the entries need no more)
        module = chunks.last()
        ws_slot = n_layout + len(scratch)
        # the state version cell comes after the workspace (a kept packed B needs both)
        version_slot = ws_slot + 1 if uses_version else None
        for entry, entry_steps in native:
            _emit_entry(module, entry, entry_steps,
                        {"workspace": ws_slot, "version": version_slot})
        if session is not None:
            session.submit(module, level)
        layout = {"segments": segments, "scratch": scratch, "workspace": workspace,
                  "version_slot": version_slot, "interpreted": interpreted}
        return chunks.modules, layout

    def _stable_values(self):
        """The values whose contents change only through variables: the params the graph
        reads from variables and does not write (donate), and views of them. A matmul keeps
        such a B packed across calls, checked against the state version (`ASSIGNMENTS`)."""
        g = self.graph
        donated = {name for _, name in self._plan.donations}
        params = {p for p, label in zip(g.params, g.param_labels)
                  if label and label.startswith("var:") and p.name not in donated}
        return params | {v for v, root in self._root.items() if root in params}

    def _adopt(self, layout):
        """Allocate the scratch buffers of `layout` and take its segments (cold or warm)."""
        nodes = self.graph.nodes
        self._segments = [("native", ref, None) if kind == "native" else ("interpret", nodes[ref])
                          for kind, ref in layout["segments"]]
        self._scratch = []        # arrays owned for the executable's lifetime
        for shape, dtype in layout["scratch"]:
            self._scratch.append(_aligned_empty(tuple(shape), dtype))
            self._fixed.append((self._new_slot(), self._scratch[-1]))
        self._workspace = layout["workspace"]
        if self._workspace:
            self._scratch.append(_aligned_empty((self._workspace,), "uint8"))
            self._fixed.append((self._new_slot(), self._scratch[-1]))
        self._version = None      # the state version cell, written before each run
        if layout.get("version_slot") is not None:
            self._version = _aligned_empty((1,), "int64")
            self._fixed.append((self._new_slot(), self._version))
            if self._fixed[-1][0] != layout["version_slot"]:
                raise RuntimeError(f"@{self.graph.name}: the state version cell is at slot "
                                   f"{self._fixed[-1][0]}, its code reads slot "
                                   f"{layout['version_slot']}")
        for item in layout["interpreted"]:
            self.interpreted.append(dict(item))
            log.info("llvm backend: @%s kernel %s runs on the interpreter: %s",
                     self.graph.name, item["kernel"], item["reason"])

    def _cache_source(self):
        """The text the compiled unit is keyed on: everything that decides its code and the
        slot numbers it was compiled against (the graph, the memory plan, the slot map)."""
        names = sorted((v.name, s) for v, s in self._slot_of.items())
        plan = (sorted(self._plan.assignment.items()), list(self._plan.in_place),
                list(self._plan.slots))
        text = self._graph_text if self._graph_text is not None else str(self.graph)
        return "\n".join([f"graphkit-llvm-backend {BACKEND_VERSION} codegen {CODEGEN_VERSION}",
                          text, repr(plan), repr(names)])

    def _compile(self):
        """Load the compiled unit from the disk cache (no lowering, no LLVM) or build it."""
        source = self._cache_source()
        cached = build_mod.load_unit(source)
        if cached is not None and (self.fallback or not cached[0]["interpreted"]):
            layout, objects = cached
        else:
            # fallback=False and a cached layout with interpreted kernels: lower again, so
            # the LoweringError names the kernel, the op and the stage.
            # The chunks are compiled while the next ones are lowered (parallel_compile.py),
            # and the thread pool's runtime (needed to link) is loaded meanwhile: cold, it
            # is built too (~40 ms of LLVM work, off the critical path on a second core).
            from graphkit.codegen import parallel_compile  # llvmlite.binding: cold only
            from graphkit.codegen.target import host_target
            host_target()   # LLVM's targets initialized here, before any thread uses them
            parallel.load_in_background()
            with parallel_compile.CompileSession(_label(self.graph.name)) as session:
                self._module, layout = self._lower_module(session)
                objects = session.finish()
            build_mod.store_unit(source, layout, objects)
        self._adopt(layout)
        entries = [seg[1] for seg in self._segments if seg[0] == "native"]
        self._calls = {}
        if not entries:
            return
        parallel.runtime()  # kernels call the pool: its symbol must resolve at link time
        self._library = build_mod.link_object(objects, entries, _label(self.graph.name))
        for e in entries:
            self._calls[e] = self._library.function(e, None, ctypes.c_void_p)

    def _link(self):
        self._table = (ctypes.c_void_p * max(1, self._n_slots))()
        self._table_addr = ctypes.addressof(self._table)
        for s, target in self._fixed:
            self._table[s] = target.ctypes.data if isinstance(target, np.ndarray) else target

    # -- running -------------------------------------------------------------------------------
    def run(self, inputs):
        # Kept packed weights are checked against the state version (see lower_kernel's
        # `stable`); a graph that writes donated params updates variables in place.
        if self._version is not None:
            self._version[0] = ASSIGNMENTS[0]
        outs = self._run(inputs)
        if self._donated:
            ASSIGNMENTS[0] += 1
        return outs

    def _run(self, inputs):
        g = self.graph
        bound = self._bound_inputs
        if len(inputs) != len(bound):
            raise ValueError(f"@{g.name} (llvm backend) takes {len(g.params)} inputs, "
                             f"received {len(inputs)}")
        prep = self.__dict__.get("_prepared") or self._prepare_run()
        # Reading `.ctypes.data` costs ~1 us; weights come back as the same array object
        # call after call, and an array object never moves its buffer while we hold it.
        if all(map(operator.is_, inputs, bound)) and prep["quick"] is not None:
            return prep["quick"]()
        table, current = self._table, inputs
        if not all(map(operator.is_, inputs, bound)):
            current = list(inputs)
            for i, (p, x) in enumerate(zip(g.params, inputs)):
                if x is bound[i]:
                    continue
                if type(x) is np.ndarray and x.flags.c_contiguous and x.dtype == p.type.dtype:
                    bound[i] = x
                else:  # a converted copy, alive for this call: the caller's object may change
                    x = current[i] = np.ascontiguousarray(x, dtype=p.type.dtype)
                    bound[i] = None
                table[self._param_slots[i]] = x.ctypes.data
            self.bindings += 1
        if prep["quick"] is not None:
            return prep["quick"]()
        ring = prep["ring"]
        if ring is not None:
            fresh = ring.take()
        else:
            fresh = [np.empty(o.type.shape, o.type.dtype) for o in self._fresh]
            for s, a in zip(prep["fresh_slots"], fresh):
                table[s] = a.ctypes.data
        if prep["native_only"]:
            for call in prep["calls"]:
                call(self._table_addr)
            if prep["fresh_outputs"] is not None:
                return [fresh[j] for j in prep["fresh_outputs"]]
            if prep["mixed_outputs"] is not None:  # donated params and params returned as is
                return [fresh[j] if k == 0 else current[j] if k == 1 else np.array(current[j])
                        for k, j in prep["mixed_outputs"]]
        arrays = dict(zip(g.params, current))
        arrays.update(zip(self._fresh, fresh))
        for seg in self._segments:
            if seg[0] != "native":
                self._interpret(seg[1], arrays)
            elif not prep["native_only"]:
                self._calls[seg[1]](self._table_addr)
        return self._outputs(arrays)

    def rerun(self):
        """A callable that repeats the last `run` with the same input arrays and returns its
        fresh outputs, or None when runs of this graph need more than the native calls. It
        is valid while `bindings` equals what `stable_bindings()` said after that run."""
        return (self.__dict__.get("_prepared") or self._prepare_run())["quick"]

    def stable_bindings(self):
        """`bindings` when the table points at the caller's own arrays, else None: an input
        that had to be converted was bound to a copy that lives only for its call."""
        return None if any(b is None for b in self._bound_inputs) else self.bindings

    def _prepare_run(self):
        """What `run` needs on every call, worked out on the first one."""
        g = self.graph
        fresh_index = {o: j for j, o in enumerate(self._fresh)}
        fresh_slots = [self._slot_of[o] for o in self._fresh]
        outs = [fresh_index.get(v) for v in g.outputs]   # None: a param, view, constant...
        distinct = len(set(outs)) == len(outs)
        self._prepared = {
            "ring": OutputRing.for_outputs([(o.type.shape, o.type.dtype) for o in self._fresh],
                                           self._table, fresh_slots),
            "fresh_slots": fresh_slots,
            "native_only": all(seg[0] == "native" for seg in self._segments),
            "calls": [self._calls[seg[1]] for seg in self._segments if seg[0] == "native"],
            # every output is a distinct fresh kernel output: hand the buffers back as they are
            "fresh_outputs": outs if distinct and None not in outs else None,
            "quick": None,
            "mixed_outputs": self._mixed_outputs(outs),
        }
        p = self._prepared
        if p["native_only"] and p["ring"] is not None and p["fresh_outputs"] == list(
                range(len(self._fresh))):
            p["quick"] = _quick_run(p["ring"].take, p["calls"], self._table_addr)
        return p

    def _mixed_outputs(self, fresh_outs):
        """[(0, fresh index) | (1, param index: a donated buffer, handed back) | (2, param
        index: a param returned unchanged, copied)] per output, or None when some output is
        anything else (a view, a constant) or a buffer would be handed out twice."""
        g = self.graph
        index = {p: i for i, p in enumerate(g.params)}
        spec = []
        for v, j in zip(g.outputs, fresh_outs):
            if j is not None:
                spec.append((0, j))
            elif v in self._donated:
                spec.append((1, index[self._donated[v]]))
            elif v in index:
                spec.append((2, index[v]))
            else:
                return None
        handed = [e for e in spec if e[0] != 2]
        return spec if len(set(handed)) == len(handed) else None

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
            if root in self._slot_of and root in arrays and root not in handed and (
                    root not in self.graph.params or v in self._donated):
                handed.add(root)
                result.append(a)
            else:
                result.append(np.array(a, copy=True))
        return result

    # -- inspection ----------------------------------------------------------------------------
    def as_text(self, stage="llvm"):
        if stage != "llvm":
            raise ValueError(f"the 'llvm' backend has no {stage!r} text; expected 'llvm'")
        if self._module is None:  # loaded from the disk cache: lower again, for the text
            self._module, _ = self._lower_module()
        return "\n".join(str(m) for m in self._module)

    def stats(self):
        kernels = sum(1 for n in self.graph.nodes if n.op == KERNEL)
        return {"kernels": kernels, "native_kernels": kernels - len(self.interpreted),
                "interpreted_kernels": list(self.interpreted),
                "native_calls_per_run": sum(1 for s in self._segments if s[0] == "native"),
                "arena_bytes": self.arena.nbytes}


def _quick_run(take, calls, table_addr):
    """`run` for the common small graph: native code only, and the outputs are the fresh
    kernel outputs in order, so the ring's new buffers are the result."""
    if len(calls) == 1:
        call = calls[0]

        def run_one():
            fresh = take()
            call(table_addr)
            return fresh
        return run_one

    def run_all():
        fresh = take()
        for c in calls:
            c(table_addr)
        return fresh
    return run_all


def _emit_entry(module, entry, steps, special_slots):
    """`void @entry(ptr table)`: call each sub-kernel with its pointers read from the table."""
    from llvmlite import ir

    from graphkit.codegen.llvm_types import I64, PTR, VOID
    fn = ir.Function(module, ir.FunctionType(VOID, [PTR]), entry)
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    table = fn.args[0]
    for kernel, slots in steps:
        slots = [special_slots.get(s, s) if isinstance(s, str) else s for s in slots]
        arr = b.alloca(PTR, size=I64(len(slots)))
        for k, s in enumerate(slots):
            p = b.load(b.gep(table, [I64(s)], source_etype=PTR), typ=PTR)
            b.store(p, b.gep(arr, [I64(k)], source_etype=PTR))
        b.call(module.get_global(kernel), [arr])
    b.ret_void()


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
