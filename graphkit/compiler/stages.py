"""The stages of a compilation, as in JAX: `Lowered` (traced and optimized IR) and
`Compiled` (an Executable plus the bookkeeping that makes a call behave like eager code).

    lowered = f.lower(x)            # trace + pass pipeline
    lowered.as_text("traced" | "optimized" | "kernels" | "llvm")
    lowered.stats()                 # SPEC's dict: passes, kernels, flops, bytes, per_kernel,
                                    # and "memory": {"arena_bytes", "intermediate_bytes"}
    compiled = lowered.compile()    # an Executable from the backend
    compiled(x)                     # same arguments as f
"""
import os
import weakref

import numpy as np

from graphkit import tree
from graphkit.compiler.executable import compile_graph
from graphkit.core.tensor import Tensor
from graphkit.core.variable import ASSIGNMENTS as _ASSIGNMENTS
from graphkit.ir.graph import KERNEL

STAGES = ("traced", "optimized", "kernels", "llvm")


class Lowered:
    def __init__(self, call, traced_text, pipeline, info, backend=None):
        self._call = call            # the _CallSpec that produced it (statics, signature)
        self._traced_text = traced_text
        self._pipeline = pipeline    # PipelineResult of the pass manager
        self.info = info             # ir.tracer.TraceInfo
        self.backend = backend
        self._compiled = None

    @property
    def graph(self):
        """The final (fused, memory-planned) graph."""
        return self._pipeline.graph

    @property
    def memory_plan(self):
        return self.graph.annotations.get("memory_plan")

    def as_text(self, stage="optimized"):
        if stage == "traced":
            return self._traced_text
        names = [n for n, _ in self._pipeline.stages]
        if stage == "optimized":  # the last stage before fusion
            cut = names.index("fusion") if "fusion" in names else len(names)
            return self._pipeline.stages[cut - 1][1]
        if stage == "kernels":
            if "fusion" not in names:
                raise ValueError(f"as_text('kernels'): the pipeline {names[1:]} has no "
                                 "fusion pass")
            return self._pipeline.stage("fusion")
        if stage == "llvm":
            return self.compile().executable.as_text("llvm")
        from graphkit.errors import unknown_identifier
        raise unknown_identifier("stage", stage, STAGES)

    def stats(self):
        from graphkit.ir.cost import graph_cost  # imported on use: not on a call's path
        cost = graph_cost(self.graph)
        return {
            "passes": [dict(p) for p in self._pipeline.passes],
            "kernels": sum(1 for n in self.graph.nodes if n.op == KERNEL),
            "flops": cost["flops"],
            "bytes": cost["bytes"],
            "per_kernel": cost["per_kernel"],
            "memory": self._memory_stats(),
        }

    def _memory_stats(self):
        """The arena the memory plan packs intermediates into, against their total size
        (both 0 when the pipeline has no memory_plan pass)."""
        plan = self.memory_plan
        if plan is None:
            return {"arena_bytes": 0, "intermediate_bytes": 0}
        return {"arena_bytes": int(plan.arena_bytes),
                "intermediate_bytes": int(plan.intermediate_bytes)}

    def compile(self):
        if self._compiled is None:
            self._compiled = Compiled(self, compile_graph(
                self.graph, self.backend, graph_text=self._pipeline.final_text))
            self._dump_llvm()
        return self._compiled

    def _dump_llvm(self):
        """With GRAPHKIT_DUMP_IR, the pass manager wrote the IR stages; the LLVM IR, the
        last stage, joins them in the same folder (a backend without LLVM IR has none)."""
        folder = self._pipeline.dump_path
        if folder is None:
            return
        try:
            text = self._compiled.executable.as_text("llvm")
        except ValueError:
            return
        name = f"{len(self._pipeline.stages):02d}_llvm.ll"
        with open(os.path.join(folder, name), "w") as f:
            f.write(text)

    def __repr__(self):
        return f"<Lowered @{self.graph.name}: {self.stats()['kernels']} kernels>"


class Compiled:
    def __init__(self, lowered, executable):
        self.lowered = lowered
        self.executable = executable

    def as_text(self, stage="llvm"):
        return self.lowered.as_text(stage)

    def __call__(self, *args, **kwargs):
        call = self.lowered._call
        flat, sig = call.flat_dynamic(args, kwargs)
        if sig != call.signature:
            from graphkit.compiler.explain import differences
            raise TypeError(
                f"{call.name}: this Compiled function was lowered for other arguments: "
                + "; ".join(differences(call.signature, sig)))
        return run(self.lowered.info, self.executable, flat)


def run(info, executable, flat_leaves):
    """Feed arguments and variable values to `executable`, write variables back, and pack
    the outputs into the structure the traced function returned."""
    return CallPlan(info, executable)(flat_leaves)


class CallPlan:
    """How one compiled trace is called, worked out once instead of on every call.

    A call reads the argument leaves and the variables' current arrays, runs the
    executable, writes updated variables back and packs the outputs. Variables are held
    weakly (a cached plan must not keep a discarded model alive); `alive` turns False, through
    a weakref callback, as soon as one of them is collected, so a caller can test staleness
    in O(1)."""

    def __init__(self, info, executable):
        self._arg_leaves = tuple(info.arg_leaves)
        self._reads = tuple(weakref.ref(v, self._forget) for v in info.var_reads)
        self._writes = tuple(weakref.ref(v, self._forget) for v in info.var_writes)
        self._run = executable.run
        # out_leaves: ("graph", i) read output i; ("static", value) a Python value.
        self._graph_outs = tuple(ref if kind == "graph" else None
                                 for kind, ref in info.out_leaves)
        self._static_outs = tuple(None if kind == "graph" else ref
                                  for kind, ref in info.out_leaves)
        self._out_tree = info.out_tree
        self._masks = tuple(info.out_masks)
        self._single = (not tree.is_nested(info.out_tree) and len(info.out_leaves) == 1
                        and info.out_leaves[0][0] == "graph" and not self._masks)
        self._inference = self._single and not self._writes
        self._out0 = self._graph_outs[0] if self._single else None
        self.alive = True
        # An inference call repeats on its own when it gets the same argument object as the
        # last one and no variable changed since (the state version, Variable.ASSIGNMENTS):
        # the executable's table still points at every input (it counts its re-bindings), so
        # nothing needs reading or checking.
        self._executable = executable
        rerun = getattr(executable, "rerun", None)
        self._quick = rerun() if self._inference and rerun is not None else None
        self._last_arg = self._epoch = self._bindings = None

    def _forget(self, _ref):
        self.alive = False

    def __call__(self, flat_leaves):
        # order="C", not ascontiguousarray: that one turns 0-d arrays into 1-d ones.
        return self._finish([np.asarray(flat_leaves[i], order="C") for i in self._arg_leaves])

    def call_arrays(self, args):
        """The fast path: `args` are exactly the argument leaves, each an ndarray or a
        Tensor (the caller checked their types, shapes and dtypes). The executable gets the
        arrays themselves: a non-contiguous one is made contiguous there."""
        if len(args) == 1:  # no list comprehension (a frame of its own) for one argument
            a = args[0]
            if a is self._last_arg and _ASSIGNMENTS[0] == self._epoch \
                    and self._executable.bindings == self._bindings:
                t = _object_new(Tensor)
                t._array = self._quick()[self._out0]
                t._keras_mask = None
                t._tape_key = None
                return t
            inputs = [a._array if type(a) is Tensor else a]
        else:
            inputs = [a._array if type(a) is Tensor else a for a in args]
        if not self._inference:
            return self._finish(inputs)
        # inference (no variable writes, one output): the whole call inline, new_tensor too
        epoch = _ASSIGNMENTS[0]
        inputs += [ref()._value._array for ref in self._reads]
        t = _object_new(Tensor)
        t._array = self._run(inputs)[self._out0]
        t._keras_mask = None
        t._tape_key = None
        if self._quick is not None and len(args) == 1:
            self._last_arg, self._epoch = args[0], epoch
            self._bindings = self._executable.stable_bindings()
        return t

    def _finish(self, inputs):
        inputs += [ref()._value._array for ref in self._reads]
        outs = self._run(inputs)
        if self._writes:  # the graph's last outputs are the variables' new values
            for ref, value in zip(self._writes, outs[len(outs) - len(self._writes):]):
                ref().assign(new_tensor(value))
        if self._single:
            return new_tensor(outs[self._graph_outs[0]])
        leaves = [new_tensor(outs[g]) if g is not None else s
                  for g, s in zip(self._graph_outs, self._static_outs)]
        for leaf, g in self._masks:
            leaves[leaf]._keras_mask = new_tensor(outs[g])
        return tree.pack_sequence_as(self._out_tree, leaves)


def new_tensor(array):
    """A Tensor over a fresh output array, without `Tensor.__init__`'s conversion (the
    executable returns C-contiguous ndarrays of the traced dtype)."""
    t = _object_new(Tensor)
    t._array = array
    t._keras_mask = None
    t._tape_key = None
    return t


_object_new = object.__new__
