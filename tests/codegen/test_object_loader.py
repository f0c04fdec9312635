"""graphkit's own object loader (codegen/object_loader.py) against LLVM's LLJIT.

The same object bytes are loaded both ways and must compute bit-identical results; a warm
process must load its cached code without importing llvmlite.binding; a corrupt object is
rejected before anything runs.
"""
import ctypes
import json
import os
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import graphkit as gk
from graphkit import ops
from graphkit.codegen import build, engine, object_loader, parallel
from graphkit.codegen.backend import LLVMExecutable
from graphkit.ops import nn
from graphkit.ops.primitive import bind

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RNG = np.random.default_rng(11)

pytestmark = [
    pytest.mark.skipif(not object_loader.supported_host(),
                       reason="the native object loader targets x86-64 Linux only"),
    pytest.mark.usefixtures("no_fallback"),
]


def f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _both_linkers(fn, *args):
    """Outputs of fn's compiled graph with its object code loaded natively and by LLJIT,
    and the objects themselves."""
    exe = gk.jit(fn, backend="llvm").lower(*args).compile().executable
    assert isinstance(exe, LLVMExecutable) and exe.stats()["interpreted_kernels"] == []
    loaded = []
    real_load = engine.load_objects

    def spy(objects, exports, label="kernel", native=True):
        loaded.append(list(objects))
        return real_load(objects, exports, label, native)

    engine.load_objects = spy
    try:
        native = LLVMExecutable(exe.graph)   # the cached unit, through the native loader
        engine.load_objects = lambda o, e, label="kernel", native=True: spy(o, e, label, False)
        lljit = LLVMExecutable(exe.graph)    # the same bytes, through LLJIT
    finally:
        engine.load_objects = real_load
    assert isinstance(native._library._owner, object_loader.Image)
    assert not isinstance(lljit._library._owner, object_loader.Image)
    assert loaded[0] == loaded[1]
    outs = [[np.array(o) for o in e.run(list(args))] for e in (native, lljit)]
    return outs[0], outs[1], loaded[0]


def _assert_identical(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.dtype == y.dtype and x.shape == y.shape
        np.testing.assert_array_equal(x, y)


def _undefined(objects):
    names = set()
    for data in objects:
        obj = object_loader._Object(data, "test")
        names.update(n for n, _, _, shndx, *_ in obj.symbols if shndx == 0 and n)
    return names


def test_elementwise_with_transcendentals_matches_lljit():
    x = f32(37, 53)

    def fn(x):
        return ops.tanh(x) * ops.exp(-x * x) + ops.log(1.0 + x * x) / (1.0 + ops.sigmoid(x))
    native, lljit, _ = _both_linkers(fn, x)
    _assert_identical(native, lljit)
    np.testing.assert_allclose(native[0], np.tanh(x) * np.exp(-x * x) + np.log1p(x * x)
                               / (1 + 1 / (1 + np.exp(-x))), rtol=1e-5, atol=1e-6)


def test_matmul_bias_relu_matches_lljit():
    x, w, b = f32(70, 129), f32(129, 97), f32(97)
    native, lljit, _ = _both_linkers(lambda x, w, b: ops.relu(ops.matmul(x, w) + b), x, w, b)
    _assert_identical(native, lljit)
    np.testing.assert_allclose(native[0], np.maximum(x @ w + b, 0), rtol=1e-4, atol=1e-4)


def test_conv_matches_lljit():
    x, w = f32(2, 12, 11, 4), f32(3, 3, 4, 8)
    pad = ((1, 1), (1, 1))

    def fn(x, w):
        return ops.tanh(bind(nn.CONV, x, w, strides=(1, 1), padding=pad, dilation=(1, 1),
                             groups=1))
    native, lljit, _ = _both_linkers(fn, x, w)
    _assert_identical(native, lljit)


def test_reductions_match_lljit():
    x = f32(64, 300)

    def fn(x):
        return ops.sum(x, axis=1), ops.max(x, axis=0), ops.logsumexp(x, axis=1)
    native, lljit, _ = _both_linkers(fn, x)
    _assert_identical(native, lljit)
    np.testing.assert_allclose(native[0], x.sum(1), rtol=1e-4, atol=1e-4)


def test_parallel_kernels_call_the_pool_and_match_lljit():
    x, w = f32(512, 384), f32(384, 256)   # big enough to be split across the pool
    native, lljit, objects = _both_linkers(lambda x, w: ops.exp(ops.matmul(x, w) * 0.01),
                                           x, w)
    assert "gk_parallel_run" in _undefined(objects)
    _assert_identical(native, lljit)


def test_the_thread_pool_itself_is_loaded_natively():
    assert isinstance(parallel.runtime()["lib"]._owner, object_loader.Image)


# -- objects built here, loaded both ways ----------------------------------------------------

def _module(tag):
    from graphkit.codegen.llvm_types import I64
    from .helpers import i64_function_module
    return i64_function_module(f"loader_{tag}", "plus", lambda b, x: b.add(x, I64(tag)))


def _calls_plus():
    """An object whose `twice` calls `plus`, defined in another object of the same unit."""
    from llvmlite import ir
    from graphkit.codegen.llvm_types import I64
    m = ir.Module(name="loader_caller")
    plus = ir.Function(m, ir.FunctionType(I64, [I64]), "plus")
    f = ir.Function(m, ir.FunctionType(I64, [I64]), "twice")
    b = ir.IRBuilder(f.append_basic_block())
    b.ret(b.call(plus, [b.call(plus, [f.args[0]])]))
    return m


def test_objects_of_one_unit_call_each_other():
    objects = [build.compile_module(_module(5)), build.compile_module(_calls_plus())]
    for native in (True, False):
        lib = engine.load_objects(objects, ["twice", "plus"], "unit", native=native)
        assert lib.function("twice", ctypes.c_int64, ctypes.c_int64)(1) == 11
    assert object_loader.relocation_types(objects[1]) == {"R_X86_64_64": 1}  # movabs &plus


def test_perf_map_names_the_loaded_functions(monkeypatch):
    """GRAPHKIT_PERF_MAP=1: each loaded function is listed where `perf report` looks for
    JIT symbols, at the address the loader gave it."""
    monkeypatch.setenv("GRAPHKIT_PERF_MAP", "1")
    path = f"/tmp/perf-{os.getpid()}.map"
    before = os.path.getsize(path) if os.path.exists(path) else 0
    image = object_loader.load([build.compile_module(_module(3))], label="perfmap")
    with open(path, encoding="utf-8") as f:
        f.seek(before)
        entries = [line.split() for line in f.read().splitlines()]
    plus = [e for e in entries if e[2] == "plus"]
    assert len(plus) == 1 and int(plus[0][0], 16) == image.symbols["plus"]
    assert int(plus[0][1], 16) > 0


def test_library_keeps_its_code_alive_through_its_functions():
    import gc
    fn = engine.load_object(build.compile_module(_module(7)), ["plus"], "alive").function(
        "plus", ctypes.c_int64, ctypes.c_int64)
    gc.collect()
    assert fn(1) == 8


def test_code_pages_are_executable_never_writable():
    lib = engine.load_object(build.compile_module(_module(9)), ["plus"], "wx")
    image = lib._owner
    perms = []
    with open("/proc/self/maps") as f:
        for line in f:
            span, mode = line.split()[:2]
            lo, hi = (int(v, 16) for v in span.split("-"))
            if lo < image.address + image.size and hi > image.address:
                perms.append(mode[:3])
    assert "r-x" in perms and "rwx" not in perms and all(p[1] != "w" or p[2] != "x"
                                                          for p in perms)
    assert lib.address("plus") >= image.address


def _section_headers(data):
    ehdr = object_loader._EHDR.unpack_from(data)
    shoff, shnum = ehdr[6], ehdr[12]
    return shoff, shnum


def _code_relocations(data):
    obj = object_loader._Object(data, "test")
    return next(s for s in obj.sections if s.name in (".rela.ltext", ".rela.text"))


def _corrupted(good):
    """Object bytes broken in ways the loader must notice."""
    shoff, shnum = _section_headers(good)
    yield good[:40]                                      # truncated header
    yield b"\x7fELF" + b"\x01" + good[5:]                # 32-bit class
    yield good[:shoff + 8]                               # section headers cut off
    bad = bytearray(good)                                # a section beyond the end
    for i in range(shnum):
        at = shoff + i * object_loader._SHDR.size
        fields = list(object_loader._SHDR.unpack_from(bad, at))
        if fields[1] == object_loader.SHT_PROGBITS and fields[5]:
            fields[4] = len(good) + 1000
            object_loader._SHDR.pack_into(bad, at, *fields)
            break
    yield bytes(bad)
    rela = _code_relocations(good)                       # a relocation past its section
    bad = bytearray(good)
    struct.pack_into("<Q", bad, rela.offset, 1 << 40)
    yield bytes(bad)
    bad = bytearray(good)                                # a symbol index out of range
    off, info, addend = object_loader._RELA.unpack_from(bad, rela.offset)
    object_loader._RELA.pack_into(bad, rela.offset, off, (10 ** 6 << 32) | (info & 0xFFFFFFFF),
                                  addend)
    yield bytes(bad)


def test_corrupt_objects_are_rejected_not_run():
    good = build.compile_module(_calls_plus())
    assert object_loader._Object(good, "good")  # the original parses
    cases = list(_corrupted(good))
    assert len(cases) == 6
    for bad in cases:
        with pytest.raises(object_loader.CorruptObject):
            engine.load_objects([bad, build.compile_module(_module(1))], ["twice"], "bad")


def test_unknown_relocation_types_are_refused_and_linked_by_lljit():
    good = build.compile_module(_calls_plus())
    rela = _code_relocations(good)
    bad = bytearray(good)
    off, info, addend = object_loader._RELA.unpack_from(bad, rela.offset)
    object_loader._RELA.pack_into(bad, rela.offset, off, (info >> 32 << 32) | 37, addend)
    with pytest.raises(object_loader.UnsupportedObject, match="relocation type 37"):
        object_loader.load([bytes(bad), build.compile_module(_module(1))])


def test_engine_links_refused_objects_with_lljit(monkeypatch):
    objects = [build.compile_module(_calls_plus()), build.compile_module(_module(2))]
    before = dict(engine.STATS)
    lib = engine.load_objects(objects, ["twice"], "ok")
    assert lib.function("twice", ctypes.c_int64, ctypes.c_int64)(0) == 4
    assert engine.STATS["native"] == before["native"] + 1

    def refuse(*args):
        raise object_loader.UnsupportedObject("test: pretend this object uses TLS")
    monkeypatch.setattr(object_loader, "load", refuse)
    lib = engine.load_objects(objects, ["twice"], "refused")
    assert lib.function("twice", ctypes.c_int64, ctypes.c_int64)(1) == 5
    assert engine.STATS["lljit"] == before["lljit"] + 1


SMALL_MODEL_IR = r"""
@counter = global i64 5
@table = internal constant [4 x double] [double 1.5, double 2.5, double 3.5, double 4.5]
declare void @llvm.memset.p0.i64(ptr, i8, i64, i1)
define i64 @fill(ptr %p, i64 %n) {
  call void @llvm.memset.p0.i64(ptr %p, i8 7, i64 %n, i1 false)
  %c = load i64, ptr @counter
  %c1 = add i64 %c, %n
  store i64 %c1, ptr @counter
  ret i64 %c1
}
define double @pick(i64 %i, double %x) {
  %p = getelementptr [4 x double], ptr @table, i64 0, i64 %i
  %v = load double, ptr %p
  %y = fmul double %v, %x
  ret double %y
}
"""


def _small_model_object(reloc):
    """SMALL_MODEL_IR compiled with the small code model (32-bit references)."""
    import llvmlite.binding as llvm
    from graphkit.codegen.target import host_target, initialize
    initialize()
    t = host_target()
    tm = llvm.Target.from_triple(t.triple).create_target_machine(
        cpu=t.cpu, features=t.features, opt=2, reloc=reloc, codemodel="small")
    mod = llvm.parse_assembly(SMALL_MODEL_IR)
    mod.triple, mod.data_layout = t.triple, str(tm.target_data)
    return tm.emit_object(mod)


def test_small_code_model_pic_objects_load_through_stubs_and_got():
    obj = _small_model_object("pic")   # memset through a stub, @counter through the GOT
    assert set(object_loader.relocation_types(obj)) >= {
        "R_X86_64_PLT32", "R_X86_64_PC32", "R_X86_64_REX_GOTPCRELX"}
    results = []
    for native in (True, False):
        lib = engine.load_object(obj, ["fill", "pick"], "small", native=native)
        assert isinstance(lib._owner, object_loader.Image) == native
        buf = (ctypes.c_uint8 * 16)()
        fill = lib.function("fill", ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64)
        pick = lib.function("pick", ctypes.c_double, ctypes.c_int64, ctypes.c_double)
        results.append((fill(buf, 10), fill(buf, 3), list(buf), pick(2, 2.0)))
    assert results[0] == results[1] == (15, 18, [7] * 10 + [0] * 6, 7.0)


def test_unreachable_absolute_relocations_raise_instead_of_crashing_lljit():
    obj = _small_model_object("static")   # R_X86_64_32S: needs code below 2 GiB
    with pytest.raises(object_loader.UnreachableRelocation, match="32"):
        engine.load_object(obj, ["fill"], "static")


# -- a warm process never loads LLVM ----------------------------------------------------------

WARM_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import graphkit as gk
    from graphkit import layers
    gk.utils.set_random_seed(0)   # the same initial weights in both processes
    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 64)).astype("float32")
    y = rng.integers(0, 10, 128)
    model = gk.models.Sequential([layers.Input((64,)), layers.Dense(256, activation="relu"),
                                  layers.Dense(10)])
    model.compile(optimizer=gk.optimizers.Adam(1e-3),
                  loss=gk.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=True)
    loss = float(model.train_on_batch(x, y))
    from graphkit.codegen import engine, pipeline
    print(json.dumps({"loss": loss, "llvm": sorted(m for m in sys.modules
                                                   if m.startswith("llvmlite.")),
                      "engine": engine.STATS, "counters": pipeline.counters()}))
""")


def test_warm_process_trains_without_importing_llvmlite_binding(tmp_path):
    env = dict(os.environ, GRAPHKIT_CACHE_DIR=str(tmp_path), PYTHONPATH=REPO)
    runs = []
    for _ in range(2):
        r = subprocess.run([sys.executable, "-c", WARM_SCRIPT], env=env, capture_output=True,
                           text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        runs.append(json.loads(r.stdout.strip().splitlines()[-1]))
    cold, warm = runs
    assert cold["counters"]["codegen"] >= 1
    assert warm["counters"] == {"optimize": 0, "codegen": 0}
    assert "llvmlite.binding" not in warm["llvm"] and "llvmlite.ir" not in warm["llvm"], \
        warm["llvm"]
    assert warm["engine"]["native"] >= 2 and warm["engine"]["lljit"] == 0  # pool + step
    assert warm["loss"] == cold["loss"]
