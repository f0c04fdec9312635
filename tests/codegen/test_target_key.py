"""The target part of the cache key: cheap (no LLVM) yet different for different targets."""
import pytest

from graphkit.codegen import disk_cache, target


@pytest.fixture
def fresh_fingerprint():
    target.host_fingerprint.cache_clear()
    yield
    target.host_fingerprint.cache_clear()


def _key_with(monkeypatch, **patches):
    target.host_fingerprint.cache_clear()
    with monkeypatch.context() as m:
        for name, value in patches.items():
            m.setattr(target, name, value)
        key = disk_cache.cache_key("same source")
    target.host_fingerprint.cache_clear()
    return key


def test_fingerprint_describes_this_cpu_and_llvmlite(fresh_fingerprint):
    fp = target.host_fingerprint()
    if fp is None:
        pytest.skip("no /proc/cpuinfo on this host: the key uses LLVM's target description")
    cpu = dict(fp[3])
    assert cpu["flags"] and "cpu MHz" not in cpu
    import llvmlite
    assert fp[4] == target.l2_cache_bytes() >= 64 * 1024
    assert fp[5][0] == llvmlite.__version__
    assert target.target_key()[-3] == target.codegen_source_hash()


def test_key_changes_with_cpu_features_and_llvmlite_build(monkeypatch, fresh_fingerprint):
    cpu = target._cpuinfo() or {"vendor_id": "GenuineIntel", "flags": "sse2 avx2"}
    base = _key_with(monkeypatch, _cpuinfo=lambda: dict(cpu))
    no_avx512 = _key_with(monkeypatch, _cpuinfo=lambda: dict(cpu, flags=cpu["flags"] + " x"))
    other_model = _key_with(monkeypatch, _cpuinfo=lambda: dict(cpu, model="999"))
    other_llvm = _key_with(monkeypatch, _cpuinfo=lambda: dict(cpu),
                           _llvmlite_build=lambda: ("0.0.1", (("libllvmlite.so", 1),)))
    other_l2 = _key_with(monkeypatch, _cpuinfo=lambda: dict(cpu), l2_cache_bytes=lambda: 12345)
    assert len({base, no_avx512, other_model, other_llvm, other_l2}) == 5
    assert _key_with(monkeypatch, _cpuinfo=lambda: dict(cpu)) == base


def test_without_cpuinfo_the_key_uses_llvms_target(monkeypatch, fresh_fingerprint):
    monkeypatch.setattr(target, "_cpuinfo", lambda: None)
    assert target.target_key()[:-2] == target.host_target().magic_tuple()


def test_key_changes_with_the_thread_count(monkeypatch):
    """Kernels are emitted for a thread count (a GEMM's work split and workspace): a process
    with another GRAPHKIT_NUM_THREADS must not load them (it ran its GEMMs on one thread)."""
    monkeypatch.setenv("GRAPHKIT_NUM_THREADS", "1")
    one = target.target_key()
    monkeypatch.setenv("GRAPHKIT_NUM_THREADS", "2")
    assert target.target_key() != one
