"""The llvmlite modules ("chunks") a graph's kernels are lowered into, and how hard LLVM
should optimize each.

    chunks = Chunks("gk_step", submit=session.submit)
    before = chunks.mark()
    lower_kernel(chunks.module, node)          # into the open chunk
    chunks.added(before, ["k0_0", "k0_1"])      # may close the chunk: submit(module, level)
    ...
    final = chunks.last()                       # the entries go here; the caller submits it

Why chunks: LLVM compiles a chunk while the next ones are lowered, and several chunks on
several cores (parallel_compile.py). A chunk is closed once it holds `CHUNK_INSTRUCTIONS`
instructions, so the split depends only on the graph: the same graph gives the same modules
(and the same `as_text`), whatever the core count. The sub-kernels of a closed chunk keep
external linkage (the entries, in the last chunk, call them); everything else is internal.

Why a level per chunk: the emitters write vector code themselves, and mark every loop whose
body is vector code "do not vectorize" (loops.py). A chunk whose loops are all such gains
nothing from O3 (nor from O2) over VECTOR's short pipeline (pipeline.py; the same speed on
W1-W7), which costs 1/4 of O2's time; a chunk with a scalar loop (gathers, sorts...) gets
FULL (O3 and the vectorizers).
"""
from llvmlite import ir

from graphkit.codegen import pipeline

# Instructions per chunk. Smaller chunks balance the cores better, but every module costs
# ~3 ms of fixed LLVM work (and compiles its own copy of the math helpers it calls). 900 to
# 2000 gave the same W8 time (a smaller first chunk, to start the second core sooner, too).
# 800 since the emitters write ~25% fewer instructions for the same LLVM work (phi
# accumulators, no dead loop tails): 600-1200 then gave the same W8 time on an idle
# machine, 600-800 a better one on a loaded one.
CHUNK_INSTRUCTIONS = 800
VECTOR = pipeline.VECTOR   # kernels whose loops are all hand-vectorized: short pipeline


class Chunks:
    def __init__(self, name, submit=None, limit=None):
        self.name = name
        self.submit = submit           # submit(module, level) for each closed chunk, or None
        self.limit = CHUNK_INSTRUCTIONS if limit is None else limit
        self._lowered = {}             # lower_kernel's table of lowered kernels, all chunks
        self.modules = [self._new_module(name)]
        self.levels = []               # of the closed chunks
        self.external = {}             # sub-kernel name -> function type, of closed chunks
        self._kernels, self._size, self._vector_only = [], 0, True

    def _new_module(self, name):
        """A chunk module sharing the lowered-kernel table: a kernel identical to one of
        an earlier chunk calls that chunk's (external) sub-kernels."""
        from graphkit.codegen.lower_kernel import LOWERED_ATTR
        from graphkit.codegen.target import host_target
        module = ir.Module(name=name)
        # The host's triple and data layout in the text too (compiling sets them anyway):
        # `as_text("llvm")` then shows the target the code is for.
        target = host_target()
        module.triple, module.data_layout = target.triple, target.data_layout
        setattr(module, LOWERED_ATTR, self._lowered)
        return module

    @property
    def module(self):
        """The open chunk: lower the next kernel into it."""
        return self.modules[-1]

    def mark(self):
        """What the open chunk holds now (pass it to `added` or `forget`)."""
        return set(self.module.globals)

    def forget(self, before):
        """Drop what a failed kernel lowering added to the open chunk."""
        module = self.module
        for name in set(module.globals) - before:
            del module.globals[name]
            module.scope._useset.discard(name)

    def added(self, before, subkernels):
        """Account for a kernel lowered since `mark()` returned `before`; close the chunk
        when it is full."""
        # a reused kernel's sub-kernels (lower_kernel) are defined in an earlier chunk,
        # or already listed
        module = self.module
        self._kernels.extend(k for k in subkernels if k not in self._kernels
                             and isinstance(module.globals.get(k), ir.Function))
        for name, fn in self.module.globals.items():
            if name not in before and isinstance(fn, ir.Function):
                self._size += sum(len(block.instructions) for block in fn.blocks)
                self._vector_only = self._vector_only and vector_loops_only(fn)
        if self._size >= self.limit:
            self._close()

    def _close(self):
        module = self.module
        hide(module, keep=self._kernels)
        self.external.update((k, module.get_global(k).ftype) for k in self._kernels)
        self.levels.append(self.level())
        if self.submit is not None:
            self.submit(module, self.levels[-1])
        self.modules.append(self._new_module(f"{self.name}_{len(self.modules)}"))
        self._kernels, self._size, self._vector_only = [], 0, True

    def level(self):
        """The optimization level the open chunk's kernels need."""
        return VECTOR if self._vector_only else pipeline.FULL

    def last(self):
        """The open chunk, made the entries' module: its kernels become internal (LLVM
        inlines them into the entries) and the closed chunks' kernels are declared."""
        module = self.module
        hide(module)
        for kernel, ftype in self.external.items():
            ir.Function(module, ftype, kernel)
        return module


def hide(module, keep=()):
    """Give every function and variable defined in `module` but those named in `keep`
    internal linkage. Why: LLVM inlines a kernel into its entry, and an external kernel
    would then be optimized and emitted a second time, as its own symbol (a third of the
    codegen time); and two chunks may define the same helper or table."""
    keep = set(keep)
    for value in module.global_values:
        defined = (not value.is_declaration if isinstance(value, ir.Function)
                   else getattr(value, "initializer", None) is not None)
        if defined and value.name not in keep:
            value.linkage = "internal"


def vector_loops_only(fn):
    """True when every innermost loop of `fn` is marked as a vector body not to vectorize
    again (the loops.py loop IDs): LLVM's vectorizers have nothing to do in it (the loop
    vectorizer only takes innermost loops; an outer loop marked scalar, around a vector
    loop or a call, gives it nothing). An unmarked innermost loop is one LLVM may have to
    vectorize."""
    loops = _loops(fn)
    for latch, body in loops:
        if any(other is not latch and other in body for other, _ in loops):
            continue      # not innermost
        if any(_calls_a_kernel_function(block) for block in body):
            continue      # loops over a call (a microkernel): its own loops are checked
        loop_id = latch.terminator.metadata.get("llvm.loop")
        if loop_id is None or not any(_no_vectorize(p) for p in loop_id.operands):
            return False
    return True


def _loops(fn):
    """[(latch block, set of the loop's blocks)] for each back edge of `fn` (a branch to a
    block on the depth-first path from the entry to the branch)."""
    if not fn.blocks:
        return []
    succs = {block: _successors(block) for block in fn.blocks}
    preds = {}
    for block, targets in succs.items():
        for t in targets:
            preds.setdefault(t, []).append(block)
    back = []
    entry = fn.blocks[0]
    on_path, done, stack = {entry}, set(), [(entry, iter(succs[entry]))]
    while stack:
        block, it = stack[-1]
        nxt = next(it, None)
        if nxt is None:
            stack.pop()
            on_path.discard(block)
            done.add(block)
        elif nxt in on_path:
            back.append((block, nxt))
        elif nxt not in done:
            on_path.add(nxt)
            stack.append((nxt, iter(succs.get(nxt, ()))))
    loops = []
    for latch, head in back:
        body, todo = {head, latch}, [latch]
        while todo:
            for p in preds.get(todo.pop(), ()):
                if p not in body:
                    body.add(p)
                    todo.append(p)
        loops.append((latch, body))
    return loops


def _calls_a_kernel_function(block):
    """Does `block` call a function other than an LLVM intrinsic (those may vectorize)?"""
    return any(isinstance(instr, ir.CallInstr) and not getattr(instr.callee, "name", "")
               .startswith("llvm.") for instr in block.instructions)


def _successors(block):
    term = block.terminator
    return [] if term is None else [op for op in term.operands if isinstance(op, ir.Block)]


def _no_vectorize(prop):
    """Is `prop` the `!{!"llvm.loop.vectorize.enable", i1 0}` loop property?"""
    ops = getattr(prop, "operands", ())
    return (len(ops) == 2 and getattr(ops[0], "string", None) == "llvm.loop.vectorize.enable"
            and getattr(ops[1], "constant", None) in (0, False))
