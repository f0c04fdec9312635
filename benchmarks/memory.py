"""Peak memory of one peer on one workload, measured in a fresh process.

Method (chosen because an in-process ru_maxrss delta is hidden by whatever peer ran before):
`python -m benchmarks.memory W1 "graphkit compiled"` imports the workload, makes its data,
reads the resident set size (the baseline: interpreter, NumPy, graphkit, data), then builds
the peer, runs it 1 + 3 times and reads the peak resident set size (VmHWM) of the process.
It prints one JSON line: peak_rss_mb, baseline_rss_mb and delta_mb (peak - baseline, i.e.
what building, compiling and running the workload added at its worst moment).
"""
import json
import subprocess
import sys

import benchmarks  # noqa: F401  (pins threads before NumPy)
from benchmarks.environment import REPO_ROOT


def _status_mb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"/proc/self/status has no {field}")


def measure(workload_id, peer):
    from benchmarks.workloads import TIMED
    workload = TIMED[workload_id]
    data = workload.make_data()
    baseline = _status_mb("VmRSS")
    runner = workload.peers[peer](data)
    for _ in range(4):
        runner.call()
    peak = _status_mb("VmHWM")
    return {"peak_rss_mb": round(peak, 1), "baseline_rss_mb": round(baseline, 1),
            "delta_mb": round(peak - baseline, 1)}


def measure_in_subprocess(workload_id, peer, timeout_s):
    """Run `measure` in a child process; errors come back as {"error": one line}."""
    try:
        proc = subprocess.run([sys.executable, "-m", "benchmarks.memory", workload_id, peer],
                              capture_output=True, text=True, timeout=timeout_s,
                              cwd=REPO_ROOT)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout_s:.0f} s"}
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {proc.returncode}: {tail[:150]}"}
    return json.loads(lines[-1])


def main(argv=None):
    workload_id, peer = (argv or sys.argv[1:])[:2]
    try:
        result = measure(workload_id, peer)
    except Exception as exc:
        from benchmarks.harness import one_line
        result = {"error": one_line(exc)}
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
