"""Disk cache: a warm process runs no LLVM work; corrupt or foreign entries are rejected."""
import os
import subprocess
import sys
import textwrap

import pytest

from graphkit.codegen import disk_cache, pipeline
from graphkit.codegen.build import build
from graphkit.codegen.llvm_types import I64

from .helpers import i64_function_module

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _module(tag):
    return i64_function_module(f"cache_{tag}", "plus", lambda b, x: b.add(x, I64(tag)))


def _plus(lib):
    import ctypes
    return lib.function("plus", ctypes.c_int64, ctypes.c_int64)


@pytest.mark.usefixtures("fresh_cache")
def test_cold_then_warm_in_process():
    m = _module(1001)
    before = pipeline.counters()
    assert _plus(build(m, ["plus"]))(1) == 1002
    mid = pipeline.counters()
    assert mid["codegen"] == before["codegen"] + 1
    assert _plus(build(m, ["plus"]))(2) == 1003
    assert pipeline.counters() == mid  # second build: loaded from disk, no LLVM work


def test_warm_process_runs_no_codegen(tmp_path):
    script = textwrap.dedent("""
        import ctypes, json
        from llvmlite import ir
        from graphkit.codegen import pipeline
        from graphkit.codegen.build import build
        from graphkit.codegen.elementwise import Operand, emit_elementwise
        from graphkit.codegen import expr as ex
        m = ir.Module(name="warm")
        x = ex.input(0, "float32")
        emit_elementwise(m, "k", [Operand((64,), "float32")], [ex.apply("exp", x)], (64,))
        build(m, ["k"])
        print(json.dumps(pipeline.counters()))
    """)
    env = dict(os.environ, GRAPHKIT_CACHE_DIR=str(tmp_path), PYTHONPATH=REPO)
    runs = [subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                           text=True, timeout=120) for _ in range(2)]
    for r in runs:
        assert r.returncode == 0, r.stderr
    cold, warm = (eval(r.stdout.strip().splitlines()[-1]) for r in runs)
    assert cold["codegen"] >= 1 and cold["optimize"] >= 1
    assert warm == {"optimize": 0, "codegen": 0}


def test_corrupt_entry_is_rejected_and_rewritten():
    m = _module(2002)
    key = disk_cache.cache_key(str(m))
    build(m, ["plus"])
    path = disk_cache.entry_path(key)
    good = open(path, "rb").read()
    for bad in (good[:-7], good[:60] + bytes([good[60] ^ 0xFF]) + good[61:], b"junk"):
        with open(path, "wb") as f:
            f.write(bad)
        rejected = disk_cache.STATS["rejected"]
        codegen = pipeline.counters()["codegen"]
        assert _plus(build(m, ["plus"]))(0) == 2002  # rebuilt, never executed the bad bytes
        assert disk_cache.STATS["rejected"] == rejected + 1
        assert pipeline.counters()["codegen"] == codegen + 1
        assert open(path, "rb").read() == good  # rewritten


def test_entry_for_another_key_is_rejected():
    a, b = _module(3003), _module(3004)
    build(a, ["plus"])
    ka, kb = disk_cache.cache_key(str(a)), disk_cache.cache_key(str(b))
    os.makedirs(os.path.dirname(disk_cache.entry_path(kb)), exist_ok=True)
    with open(disk_cache.entry_path(ka), "rb") as src, \
            open(disk_cache.entry_path(kb), "wb") as dst:
        dst.write(src.read())  # a valid entry, but for a different key
    assert disk_cache.load(kb) is None
    assert _plus(build(b, ["plus"]))(0) == 3004


def test_key_depends_on_target_and_source():
    assert disk_cache.cache_key("a") != disk_cache.cache_key("b")
    assert len(disk_cache.cache_key("a")) == 64


@pytest.mark.usefixtures("fresh_cache")
def test_a_unit_keeps_its_layout_next_to_its_code():
    from graphkit.codegen.build import build_unit, link_object, load_unit
    m, layout = _module(4004), {"segments": [["native", "plus"]], "scratch": [[[2, 3], "float32"]]}
    source = "unit source 4004"
    assert load_unit(source) is None
    before = pipeline.counters()
    assert _plus(build_unit(m, ["plus"], "u", source, layout))(1) == 4005
    loaded_layout, obj = load_unit(source)
    assert loaded_layout == layout
    assert _plus(link_object(obj, ["plus"]))(2) == 4006
    assert pipeline.counters()["codegen"] == before["codegen"] + 1


def _times(m_tag):
    return i64_function_module(f"times_{m_tag}", "times", lambda b, x: b.mul(x, I64(m_tag)))


def test_a_unit_holds_several_objects_linked_as_one_library():
    import ctypes
    from graphkit.codegen.build import compile_module, link_object, load_unit, store_unit
    objects = [compile_module(_module(6006)), compile_module(_times(3))]
    source = "unit source 6006"
    store_unit(source, {"k": 2}, objects)
    layout, loaded = load_unit(source)
    assert layout == {"k": 2} and loaded == objects
    lib = link_object(loaded, ["plus", "times"])
    assert _plus(lib)(1) == 6007
    assert lib.function("times", ctypes.c_int64, ctypes.c_int64)(5) == 15


def test_a_unit_whose_object_sizes_do_not_add_up_is_rejected():
    from graphkit.codegen.build import _UNIT_HEADER, _UNIT_MAGIC, _unit_key, load_unit
    source = "unit source 7007"
    data = b'{"_object_sizes":[100]}'
    disk_cache.store(_unit_key(source), _UNIT_HEADER.pack(_UNIT_MAGIC, len(data)) + data + b"x")
    rejected = disk_cache.STATS["rejected"]
    assert load_unit(source) is None
    assert disk_cache.STATS["rejected"] == rejected + 1


def test_a_unit_with_a_foreign_payload_is_rejected_and_rewritten():
    from graphkit.codegen.build import _unit_key, build_unit, load_unit
    source = "unit source 5005"
    disk_cache.store(_unit_key(source), b"a valid entry, but not a unit")
    rejected = disk_cache.STATS["rejected"]
    assert load_unit(source) is None
    assert disk_cache.STATS["rejected"] == rejected + 1
    build_unit(_module(5005), ["plus"], "u", source, {"k": 1})
    assert load_unit(source)[0] == {"k": 1}


def test_key_hashes_the_code_generator_source(tmp_path, monkeypatch):
    """A changed emitter must never be served object code that an older one built."""
    from graphkit.codegen import target
    emitter = tmp_path / "codegen" / "emitter.py"
    emitter.parent.mkdir()
    emitter.write_bytes(b"LANES = 8\n")
    files = target.source_files(("codegen/*.py",), root=str(tmp_path))
    assert files == [str(emitter)]
    first = target.hash_files(files, root=str(tmp_path))
    emitter.write_bytes(b"LANES = 4\n")          # same size, same name: only the bytes differ
    second = target.hash_files(files, root=str(tmp_path))
    assert first != second
    assert target.hash_files(files, root=str(tmp_path)) == second   # deterministic

    # the hash is part of every disk-cache key
    key = disk_cache.cache_key("same source")
    monkeypatch.setattr(target, "codegen_source_hash", lambda: second)
    assert disk_cache.cache_key("same source") != key
    # and the real one covers the emitters
    assert any(f.endswith("codegen/matmul.py") for f in target.source_files())
