"""Tables for the terminal and the atomic results.json writer."""
import json
import os
import tempfile

from benchmarks.workloads.base import GRAPHKIT_PEERS


def fmt_time(seconds):
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} us"
    if seconds < 1.0:
        return f"{seconds * 1e3:.3f} ms"
    return f"{seconds:.2f} s"


def fmt_ratio(value):
    return "-" if value is None else f"{value:.2f}x"


def best_peer(rows):
    """The fastest right answer among the peers (graphkit rows are what is compared to it)."""
    candidates = [r for r in rows if r.status == "ok" and r.error_ok
                  and r.peer not in GRAPHKIT_PEERS]
    return min(candidates, key=lambda r: r.median_s, default=None)


def add_ratios(rows, floor_s):
    best = best_peer(rows)
    for row in rows:
        if row.median_s is None:
            row.ratio_best = row.ratio_floor = None
            continue
        row.ratio_best = row.median_s / best.median_s if best else None
        row.ratio_floor = row.median_s / floor_s if floor_s else None
    return best


def memory_cell(row):
    mem = row.memory
    if not mem:
        return ""
    if "error" in mem:
        return f"mem: error ({mem['error'][:60]})"
    text = f"peak RSS {mem['peak_rss_mb']:.0f} MB (+{mem['delta_mb']:.0f} MB)"
    arena = arena_summary(row.compiler_stats)
    if arena is not None:
        text += f", {arena}"
    return text


def arena_summary(stats):
    """'arena X MB / intermediates Y MB' from the compiler's stats, or a labelled n/a."""
    if stats is None:
        return None
    memory = stats.get("memory", stats) if isinstance(stats, dict) else {}
    arena, total = memory.get("arena_bytes"), memory.get("intermediate_bytes")
    if arena is None or total is None:
        return "arena: n/a (stats() has no memory plan yet)"
    return f"arena {arena / 1e6:.2f} MB / intermediates {total / 1e6:.2f} MB"


def print_table(workload, rows, floor, out=print, foreign_load=None):
    best = add_ratios(rows, floor[0] if floor else None)
    out(f"\n{workload.id} {workload.name}: {workload.what}")
    if floor:
        out(f"  physical floor on this machine: {fmt_time(floor[0])} ({floor[1]})")
    out(f"  best peer: {best.peer if best else 'none'}; tolerance {workload.tolerance:g}")
    if foreign_load is not None:
        busy = " (noisy: medians are inflated, compare mins)" if foreign_load > 0.1 else ""
        out(f"  other processes used {foreign_load:.0%} of the cores meanwhile{busy}")
    header = f"  {'peer':<18} {'median':>11} {'min':>11} {'x best':>7} {'x floor':>8} " \
             f"{'1st call':>10} {'max err':>9}  notes"
    out(header)
    out("  " + "-" * (len(header) + 10))
    missing = []
    for row in rows:
        if row.status == "missing":
            missing.append(f"{row.peer} ({row.message})")
            continue
        if row.status != "ok":
            out(f"  {row.peer:<18} {row.status}: {row.message}")
            continue
        err = "-" if row.max_error is None else f"{row.max_error:.1e}"
        flag = "" if row.error_ok else " WRONG"
        notes = "; ".join(n for n in (row.note, memory_cell(row)) if n)
        out(f"  {row.peer:<18} {fmt_time(row.median_s):>11} {fmt_time(row.min_s):>11} "
            f"{fmt_ratio(row.ratio_best):>7} {fmt_ratio(row.ratio_floor):>8} "
            f"{fmt_time(row.first_call_s):>10} {err:>9}{flag}  {notes}")
    if missing:
        out("  missing: " + ", ".join(missing))
    if any(r.ratio_floor is not None and r.ratio_floor < 0.95 for r in rows):
        out("  note: a row beats the floor: the machine's peak was measured under load")


def write_json_atomic(path, payload):
    """Write to a temporary file in the same folder, then rename: never a half-written file."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".results-", suffix=".json", dir=folder)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(payload, f, indent=1, sort_keys=False, default=_jsonable)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _jsonable(value):
    if hasattr(value, "tolist"):  # NumPy arrays and scalars
        return value.tolist()
    return str(value)
