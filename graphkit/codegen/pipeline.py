"""Optimize LLVM modules (new pass manager, O3, loop and SLP vectorization) and emit objects.

Every optimize and codegen run is counted in `COUNTERS`, so that a test can prove that a warm
process (all kernels found in the disk cache) runs neither.
"""
from graphkit.codegen.target import host_target
from graphkit.codegen.target import llvm  # llvmlite.binding, imported lazily (warm: never)

COUNTERS = {"optimize": 0, "codegen": 0}


class CodegenError(RuntimeError):
    """LLVM rejected a module: the message names the module and LLVM's complaint."""


def counters():
    """A copy of the optimize/codegen counters of this process."""
    return dict(COUNTERS)


def parse(ir_text, name="module"):
    """Parse and verify LLVM IR text into a ModuleRef for the host target."""
    target = host_target()
    try:
        mod = llvm.parse_assembly(str(ir_text))
        mod.verify()
    except RuntimeError as e:
        raise CodegenError(f"LLVM rejected the IR of {name!r}: {e}") from None
    mod.name = name
    mod.triple = target.triple
    mod.data_layout = target.data_layout
    return mod


# Optimization levels: FULL (O3 and the vectorizers) for kernels with scalar loops; VECTOR
# (the short pipeline below) for kernels whose loops are all hand-vectorized (chunks.py);
# LIGHT (O1, no vectorizers) for glue code that only moves pointers or waits on atomics (the
# thread pool), where O3 costs tens of milliseconds of compile time and gains nothing.
FULL, VECTOR, LIGHT = 3, 2, 1

# VECTOR's passes. The emitters write vector code, phi accumulators and no dead loop tails,
# so what is left to do is: inline the math helpers (alwaysinline), promote the loop
# counters' allocas, fold the constant index arithmetic, merge blocks, remove redundant
# loads. That is 1/4 of O2's time (O2 was ~45% of a cold compile's LLVM time) for the same
# speed on W1-W7 (the codegen's own passes, LSR and MachineLICM, still run).
VECTOR_PASSES = ("always_inliner", "sroa", "instruction_combine", "simplify_cfg",
                 "new_gvn", "instruction_combine", "simplify_cfg")


def _tuning_options(level=FULL):
    pto = llvm.create_pipeline_tuning_options(speed_level=level)
    full = level >= FULL
    pto.loop_vectorization = full
    pto.slp_vectorization = full
    pto.loop_unrolling = full
    pto.loop_interleaving = full
    return pto


def module_pass_manager(pb, level):
    """The module pass manager of `level` (`pb`, made with `_tuning_options(level)`, supplies
    the analyses and the default O1/O3 pipelines)."""
    if level != VECTOR:
        return pb.getModulePassManager()
    pm = llvm.create_new_module_pass_manager()
    for name in VECTOR_PASSES:
        getattr(pm, f"add_{name}_pass")()
    return pm


def optimize(mod, level=FULL):
    """Run the O3 (or `level`: VECTOR short, LIGHT O1) pipeline on `mod` in place."""
    target = host_target()
    pb = llvm.create_pass_builder(target.target_machine, _tuning_options(level))
    module_pass_manager(pb, level).run(mod, pb)
    COUNTERS["optimize"] += 1
    return mod


def emit_object(mod):
    """Native object code (ELF bytes) for an optimized module."""
    COUNTERS["codegen"] += 1
    return host_target().target_machine.emit_object(mod)


def emit_assembly(mod):
    """Native assembly text (for inspection: is the loop vectorized, are FMAs used)."""
    return host_target().target_machine.emit_assembly(mod)


def compile_ir(ir_text, name="module", level=FULL):
    """IR text -> (optimized ModuleRef, object bytes): one optimize and one codegen run."""
    mod = optimize(parse(ir_text, name), level)
    return mod, emit_object(mod)
