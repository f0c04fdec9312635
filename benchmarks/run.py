"""`python -m benchmarks [--quick] [--only W2,W6] [--peers numpy,jax]`: run the suite.

Every peer runs side by side in this one process run (W8 and the memory column use child
processes); a peer that is missing or fails becomes a row note, and the run goes on.
"""
import argparse
import gc
import os
import sys
import time
import warnings

if __package__ in (None, ""):  # `python benchmarks/run.py`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import benchmarks  # noqa: E402,F401  (pins threads before NumPy is imported)
from benchmarks import environment, machine, peers, report  # noqa: E402
from benchmarks.harness import Budget, prepare_peer, time_interleaved  # noqa: E402
from benchmarks.memory import measure_in_subprocess  # noqa: E402
from benchmarks.workloads import ALL_IDS, TIMED, w8_compile_time  # noqa: E402
from benchmarks.workloads.base import GRAPHKIT_PEERS  # noqa: E402

# peers' own advice (dynamo hints, deprecations) is noise in a results table
warnings.filterwarnings("ignore", module=r"(torch|jax|keras|onnx|tinygrad|numba)(\.|$)")

DEFAULT_JSON = os.path.join(environment.REPO_ROOT, "benchmarks", "results.json")

# peers whose memory is measured: graphkit's rows, and NumPy's as the reference point
# (--quick: the compiled row only; each measurement is a child process, about 2 s)
MEMORY_PEERS = {"quick": ("graphkit compiled",), "full": GRAPHKIT_PEERS + ("numpy",)}


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="short timing (~0.2 s per peer); under 2 minutes on 2 cores")
    parser.add_argument("--only", default="",
                        help=f"comma-separated workload ids, from {','.join(ALL_IDS)}")
    parser.add_argument("--peers", default="",
                        help="comma-separated peer name prefixes (e.g. numpy,jax,graphkit)")
    parser.add_argument("--json", default=DEFAULT_JSON, help="where to write results")
    parser.add_argument("--no-memory", action="store_true",
                        help="skip the peak-RSS child processes")
    args = parser.parse_args(argv)
    wanted = [w.strip().upper() for w in args.only.split(",") if w.strip()]
    unknown = [w for w in wanted if w not in ALL_IDS]
    if unknown:
        parser.error(f"--only: unknown workload {unknown}; expected ids from {ALL_IDS}")
    args.workloads = wanted or list(ALL_IDS)
    prefixes = [p.strip() for p in args.peers.split(",") if p.strip()]
    args.peer_filter = lambda name: not prefixes or any(name.startswith(p) for p in prefixes)
    return args


def budget_for(quick):
    if quick:
        return Budget(timing_s=0.2, warmup_s=0.05, min_calls=3, build_limit_s=60.0, rounds=4,
                      settle_s=0.02)
    return Budget(timing_s=1.5, warmup_s=0.3, min_calls=5, build_limit_s=180.0, rounds=10,
                  settle_s=0.1)


def run_timed_workload(workload, args, budget, limits):
    load = machine.ForeignLoad()
    data = workload.make_data()
    expected = workload.reference(data)
    prepared = []
    for name, build in workload.peers.items():
        if args.peer_filter(name):
            gc.collect()
            prepared.append(prepare_peer(name, build, data, workload, budget, expected))
    time_interleaved(prepared, budget)
    foreign = load.share()
    rows = [row for row, _ in prepared]
    del prepared  # release the peers' buffers before the next workload
    gc.collect()
    for row in rows:
        memory_peers = MEMORY_PEERS["quick" if args.quick else "full"]
        if row.status == "ok" and row.peer in memory_peers and not args.no_memory:
            row.memory = measure_in_subprocess(workload.id, row.peer, budget.build_limit_s)
    floor = workload.floor(limits)
    report.print_table(workload, rows, floor, foreign_load=foreign)
    return {"what": workload.what, "tolerance": workload.tolerance, "foreign_load": foreign,
            "floor_s": floor[0] if floor else None, "floor": floor[1] if floor else None,
            "rows": [row.as_dict() for row in rows]}


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    started = time.perf_counter()
    budget = budget_for(args.quick)
    info = machine.cpu_info()
    print(f"graphkit benchmarks ({'quick' if args.quick else 'full'}) on {info['cpu_model']}, "
          f"{info['logical_cores']} cores, {threads_note()}")
    print(f"  ISA: {' '.join(info['flags'])}")
    limits = machine.measure_all()
    print(f"  measured: FMA peak {limits['fma_peak_gflops']} GFLOP/s, NumPy SGEMM "
          f"{limits['sgemm_gflops']} GFLOP/s, memory bandwidth {limits['bandwidth_gbs']} GB/s")
    missing = peers.missing_families()
    if missing:
        print("  missing peers: " + "; ".join(f"{family} ({', '.join(what)})"
                                             for family, what in missing.items()))
    payload = {"mode": "quick" if args.quick else "full", "machine": info, "limits": limits,
               "environment": environment.settings(), "packages": peers.versions(),
               "missing_peers": missing, "budget": budget.__dict__, "workloads": {}}
    for workload_id in args.workloads:
        if workload_id == "W8":
            rows = w8_compile_time.run(args.quick, args.peer_filter, budget.build_limit_s)
            w8_compile_time.print_table(rows)
            payload["workloads"]["W8"] = {
                "what": "first W3 train step in a fresh process; median_s = cold, min_s = warm",
                "rows": [row.as_dict() for row in rows]}
        else:
            payload["workloads"][workload_id] = run_timed_workload(
                TIMED[workload_id], args, budget, limits)
        payload["elapsed_s"] = round(time.perf_counter() - started, 1)
        report.write_json_atomic(args.json, payload)
    print(f"\nwrote {args.json} ({payload['elapsed_s']:.0f} s)")
    return 0


def threads_note():
    late = os.environ.get("BENCH_IMPORTED_BEFORE_PINNING")
    note = f"{environment.THREADS} threads per peer"
    return note + (f" (WARNING: {late} imported before the thread pin)" if late else "")


if __name__ == "__main__":
    sys.exit(main())
