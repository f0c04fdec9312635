"""W8 compile_time: the first call of the W3 train step in a fresh process (trace + compile +
run), cold (empty compilation cache) and warm (a second process, same cache folder).

Each measurement is its own child process: `python -m benchmarks.workloads.w8_compile_time
PEER CACHE_DIR` prints one JSON line with import_s, build_s (data, model, compile() call:
Python-side set-up) and first_call_s (the W8 figure). The caches used:
- graphkit: GRAPHKIT_CACHE_DIR (its on-disk object-code cache);
- jax.jit and keras (jax): JAX's persistent compilation cache, every entry kept;
- torch.compile: TORCHINDUCTOR_CACHE_DIR (Inductor's FX-graph and kernel caches).

Byte code: the peers' installed packages carry .pyc files (pip writes them at install), but
graphkit runs from its source tree, and with PYTHONDONTWRITEBYTECODE=1 (as on the benchmark
machine) a fresh process would compile every graphkit module from source (~30 ms), a cost a
pip-installed graphkit does not have. So before its cold run, graphkit is run once by a
priming child that may write byte code, into a temporary PYTHONPYCACHEPREFIX, for every
module it imports; the cold and warm children read it from there. (Byte-compiling only
graphkit's sources would not do: a PYTHONPYCACHEPREFIX redirects every module's byte code,
the standard library's, NumPy's and llvmlite's included.) The priming child's compilation
cache is thrown away.

import_s: `import graphkit` is lazy (sub-packages load on first use), so graphkit's figure
also imports the parts of the API the W3 code uses, as `import keras` or `import jax` do.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import benchmarks  # noqa: F401  (pins threads before NumPy)
from benchmarks.environment import REPO_ROOT
from benchmarks.harness import Row, one_line

PEERS = {  # W8 peer -> (W3 peer it runs, which runs include it)
    "graphkit compiled": ("graphkit compiled", "quick"),
    "jax.jit": ("jax.jit", "quick"),
    "keras (jax)": ("keras (jax)", "full"),
    "torch.compile": ("torch.compile", "full"),
}



def _configure_cache(peer, cache_dir):
    if peer.startswith("graphkit"):
        os.environ["GRAPHKIT_CACHE_DIR"] = cache_dir
    elif peer == "torch.compile":
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache_dir
        os.environ["TRITON_CACHE_DIR"] = os.path.join(cache_dir, "triton")
    else:
        import jax
        jax.config.update("jax_compilation_cache_dir", cache_dir)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


_IMPORTS = {"graphkit compiled": ("graphkit", "graphkit.layers", "graphkit.models",
                                   "graphkit.optimizers", "graphkit.losses"),
            "jax.jit": ("jax",), "keras (jax)": ("keras",), "torch.compile": ("torch",)}
PYC_NOTE = ("graphkit runs from .pyc files that a priming run wrote (temporary "
            "PYTHONPYCACHEPREFIX), as after pip install;\n   other peers from their installed "
            ".pyc files")


def child(peer, cache_dir):
    """Time import, set-up and the first train step of `peer` in this (fresh) process."""
    start = time.perf_counter()
    _configure_cache(peer, cache_dir)
    for module in _IMPORTS[peer]:
        __import__(module)
    imported = time.perf_counter()
    from benchmarks.workloads.w3_mlp_train import WORKLOAD
    runner = WORKLOAD.peers[PEERS[peer][0]](WORKLOAD.make_data())
    built = time.perf_counter()
    runner.call()
    done = time.perf_counter()
    return {"import_s": imported - start, "build_s": built - imported,
            "first_call_s": done - built}


def _run_child(peer, cache_dir, timeout_s, env=None):
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.workloads.w8_compile_time", peer, cache_dir],
            capture_output=True, text=True, timeout=timeout_s, cwd=REPO_ROOT, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout_s:.0f} s"}
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {proc.returncode}: {tail[:150]}"}
    return json.loads(lines[-1])


def run(quick, peer_filter, timeout_s):
    """Cold then warm child process per peer; one Row each (median_s = cold, min_s = warm)."""
    rows = []
    for peer, (_, when) in PEERS.items():
        if not peer_filter(peer):
            continue
        row = Row(peer=peer)
        if quick and when == "full":
            row.status, row.message = "n/a", "skipped in --quick (run without --quick)"
            rows.append(row)
            continue
        cache_dir = tempfile.mkdtemp(prefix="bench-w8-")
        pyc_dir = tempfile.mkdtemp(prefix="bench-w8-pyc-") if peer.startswith("graphkit") \
            else None
        try:
            env = _byte_compiled_env(peer, pyc_dir, timeout_s) if pyc_dir else None
            cold = _run_child(peer, cache_dir, timeout_s, env)
            warm = _run_child(peer, cache_dir, timeout_s, env) if "error" not in cold else {}
        finally:
            shutil.rmtree(cache_dir, ignore_errors=True)
            if pyc_dir:
                shutil.rmtree(pyc_dir, ignore_errors=True)
        for result in (cold, warm):
            if "error" in result or "missing" in result:
                row.status = "missing" if "missing" in result else "error"
                row.message = result.get("error") or result.get("missing")
                break
        else:
            row.extra = {"cold": cold, "warm": warm}
            row.median_s, row.min_s = cold["first_call_s"], warm["first_call_s"]
            row.note = (f"import {cold['import_s']:.2f} s, set-up {cold['build_s']:.2f} s "
                        f"(cold process)" + ("; .pyc primed" if pyc_dir else ""))
        rows.append(row)
    return rows


def _byte_compiled_env(peer, pyc_dir, timeout_s):
    """The environment of graphkit's measured children: byte code under `pyc_dir`, written
    by one priming run of the same child (writing allowed; its own throwaway cache)."""
    env = dict(os.environ, PYTHONPYCACHEPREFIX=pyc_dir)
    priming = dict(env)
    priming.pop("PYTHONDONTWRITEBYTECODE", None)
    scratch = tempfile.mkdtemp(prefix="bench-w8-priming-")
    try:
        _run_child(peer, scratch, timeout_s, priming)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return env


def print_table(rows, out=print):
    from benchmarks.report import fmt_ratio, fmt_time
    from benchmarks.workloads.base import GRAPHKIT_PEERS
    ok = [r for r in rows if r.status == "ok" and r.peer not in GRAPHKIT_PEERS]
    best_cold = min((r.median_s for r in ok), default=None)
    best_warm = min((r.min_s for r in ok), default=None)
    out("\nW8 compile_time: first W3 train step in a fresh process (trace + compile + run)")
    out(f"  ({PYC_NOTE})")
    out(f"  {'peer':<18} {'cold':>10} {'warm':>10} {'x best cold':>12} {'x best warm':>12}  notes")
    for row in rows:
        if row.status != "ok":
            out(f"  {row.peer:<18} {row.status}: {row.message}")
            continue
        row.ratio_best = row.median_s / best_cold if best_cold else None
        warm_ratio = row.min_s / best_warm if best_warm else None
        out(f"  {row.peer:<18} {fmt_time(row.median_s):>10} {fmt_time(row.min_s):>10} "
            f"{fmt_ratio(row.ratio_best):>12} {fmt_ratio(warm_ratio):>12}  {row.note}")


def main(argv=None):
    peer, cache_dir = (argv or sys.argv[1:])[:2]
    from benchmarks.harness import PeerMissing
    try:
        result = child(peer, cache_dir)
    except (PeerMissing, ImportError) as exc:
        result = {"missing": str(exc)}
    except Exception as exc:
        result = {"error": one_line(exc)}
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
