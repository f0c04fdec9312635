"""The thread pool of parallel.py, emitted as LLVM IR (`pool_module()`).

Kept apart from parallel.py so that a warm process, which links the pool's object code from
the disk cache, never imports llvmlite.ir nor builds this module (~13 ms per process).
See parallel.py for how the pool works and why it is native.
"""
import contextlib

from llvmlite import ir

from graphkit.codegen.llvm_types import I8, I32, I64, PTR, VOID, intrinsic
from graphkit.codegen.parallel import MAX_THREADS, RUN_SYMBOL, SPIN_ITERATIONS, YIELD_EVERY
from graphkit.codegen.target import host_target

TASK_TYPE = ir.FunctionType(VOID, [PTR, I32, I32])


def _global(module, name, ty, init=0, align=64):
    g = ir.GlobalVariable(module, ty, name)
    g.linkage = "internal"
    g.initializer = ir.Constant(ty, None if isinstance(ty, ir.ArrayType) else init)
    g.align = align
    return g


class _Callee:
    """An opaque pointer seen as a task function, so that llvmlite emits a call through it."""

    function_type = TASK_TYPE

    def __init__(self, value):
        self.value = value
        self.type = value.type

    def get_reference(self):
        return self.value.get_reference()


def _as_task(value):
    return _Callee(value)


def _pause(b):
    if host_target().triple.startswith(("x86_64", "i686", "i386")):
        b.call(intrinsic(b.module, "llvm.x86.sse2.pause", VOID, []), [])


def _atomic_load(b, ptr, ty):
    v = b.load_atomic(ptr, "acquire", align=8 if ty == I64 else 4, typ=ty)
    return v


def _atomic_store(b, value, ptr):
    b.store_atomic(value, ptr, "release", align=8 if value.type == I64 else 4)


@contextlib.contextmanager
def _for_workers(fn, b, nth):
    """Loop over the workers i = 1 .. nth-1 (thread 0 is the caller); yields (i, the block
    after the loop) with `b` in the loop body, and leaves `b` after the loop."""
    i = b.alloca(I32)
    b.store(I32(1), i)
    loop, body, done = (fn.append_basic_block(n) for n in ("loop", "body", "done"))
    b.branch(loop)
    b.position_at_end(loop)
    iv = b.load(i, typ=I32)
    b.cbranch(b.icmp_signed("<", iv, nth), body, done)
    b.position_at_end(body)
    yield iv, done
    b.store(b.add(iv, I32(1)), i)
    b.branch(loop)
    b.position_at_end(done)


def pool_module():
    m = ir.Module(name="gkrt")
    lock_ty = ir.ArrayType(I8, 64)  # glibc: pthread_mutex_t 40 B, pthread_cond_t 48 B
    g = {
        "task": _global(m, "pool.task", PTR, None, 8),
        "ctx": _global(m, "pool.ctx", PTR, None, 8),
        "nthreads": _global(m, "pool.nthreads", I32, 1, 8),
        "gen": _global(m, "pool.gen", I64),
        "next": _global(m, "pool.next", I64),   # (generation << 8) | next unclaimed chunk
        "start_gen": _global(m, "pool.start_gen", I64),
        "done": _global(m, "pool.done", I64),
        "quit": _global(m, "pool.quit", I32),
        "busy": _global(m, "pool.busy", I32),
        "running": _global(m, "pool.running", I32),
        "mutex": _global(m, "pool.mutex", lock_ty),
        "cond": _global(m, "pool.cond", lock_ty),
        "threads": _global(m, "pool.threads", ir.ArrayType(I64, MAX_THREADS)),
    }
    ext = {
        "lock": ir.Function(m, ir.FunctionType(I32, [PTR]), "pthread_mutex_lock"),
        "unlock": ir.Function(m, ir.FunctionType(I32, [PTR]), "pthread_mutex_unlock"),
        "wait": ir.Function(m, ir.FunctionType(I32, [PTR, PTR]), "pthread_cond_wait"),
        "broadcast": ir.Function(m, ir.FunctionType(I32, [PTR]), "pthread_cond_broadcast"),
        "create": ir.Function(m, ir.FunctionType(I32, [PTR, PTR, PTR, PTR]),
                              "pthread_create"),
        "join": ir.Function(m, ir.FunctionType(I32, [I64, PTR]), "pthread_join"),
        "yield": ir.Function(m, ir.FunctionType(I32, []), "sched_yield"),
    }
    claim_fn = _emit_claim(m, g)
    worker = _emit_worker(m, g, ext, claim_fn)
    _emit_run(m, g, ext, claim_fn)
    _emit_start(m, g, ext, worker)
    _emit_stop(m, g, ext)
    _emit_forget(m, g)
    return m


def _emit_claim(m, g):
    """void claim(i64 gen): run unclaimed chunks of generation `gen` until none is left.

    The caller and the workers all claim chunks (tid values) from one atomic word holding
    (generation << 8) | next chunk, so the calling thread runs the chunks of a worker that
    has not woken up yet instead of spinning until the scheduler runs it: on a busy machine
    a sleeping or descheduled worker costs a time slice (milliseconds) per parallel region.
    A claim is a compare-and-swap on the word, so a late worker can never take a chunk of a
    generation that is over (its generation no longer matches); task and ctx are read after
    a successful claim, and the caller does not post a new generation before every chunk of
    this one is done, so they are this generation's."""
    fn = ir.Function(m, ir.FunctionType(VOID, [I64]), "gk_pool_claim")
    fn.linkage = "internal"
    entry, loop, check, claim, run, out = (fn.append_basic_block(n) for n in
                                           ("entry", "loop", "check", "claim", "run", "out"))
    b = ir.IRBuilder(entry)
    gen = fn.args[0]
    nth = b.zext(b.load(g["nthreads"], typ=I32), I64)
    b.branch(loop)
    b.position_at_end(loop)
    cur = _atomic_load(b, g["next"], I64)
    same = b.icmp_unsigned("==", b.lshr(cur, I64(8)), gen)
    b.cbranch(same, check, out)
    b.position_at_end(check)
    chunk = b.and_(cur, I64(255))
    b.cbranch(b.icmp_unsigned("<", chunk, nth), claim, out)
    b.position_at_end(claim)
    pair = b.cmpxchg(g["next"], cur, b.add(cur, I64(1)), "acq_rel", "monotonic")
    b.cbranch(b.extract_value(pair, 1), run, loop)
    b.position_at_end(run)
    task = _as_task(b.load(g["task"], typ=PTR))
    ctx = b.load(g["ctx"], typ=PTR)
    b.call(task, [ctx, b.trunc(chunk, I32), b.trunc(nth, I32)])
    b.atomic_rmw("add", g["done"], I64(1), "acq_rel")
    b.branch(loop)
    b.position_at_end(out)
    b.ret_void()
    return fn


def _emit_worker(m, g, ext, claim_fn):
    """void *worker(void *tid): wait for a new generation, run the task, count it done."""
    fn = ir.Function(m, ir.FunctionType(PTR, [PTR]), "gk_pool_worker")
    fn.linkage = "internal"
    entry, top, spin, sleep, sleep_check, sleep_wait, sleep_done, run, leave = (
        fn.append_basic_block(n) for n in
        ("entry", "top", "spin", "sleep", "sleep_check", "sleep_wait", "sleep_done", "run",
         "leave"))
    b = ir.IRBuilder(entry)
    seen = b.alloca(I64)
    count = b.alloca(I32)
    # the generation at pool start, not "now": a task posted before this thread got to run
    # must still be seen as new
    b.store(b.load(g["start_gen"], typ=I64), seen)
    b.branch(top)

    b.position_at_end(top)
    b.store(I32(0), count)
    b.branch(spin)

    b.position_at_end(spin)  # spin: new generation? quit? else pause and count
    gen = _atomic_load(b, g["gen"], I64)
    quit_now = b.icmp_unsigned("!=", _atomic_load(b, g["quit"], I32), I32(0))
    with b.if_then(quit_now):
        b.ret(ir.Constant(PTR, None))
    fresh = b.icmp_unsigned("!=", gen, b.load(seen, typ=I64))
    b.cbranch(fresh, run, sleep)

    b.position_at_end(sleep)  # not yet: pause, and sleep once the spin budget is spent
    n = b.add(b.load(count, typ=I32), I32(1))
    b.store(n, count)
    _pause(b)
    b.cbranch(b.icmp_signed("<", n, I32(SPIN_ITERATIONS)), spin, sleep_check)

    b.position_at_end(sleep_check)  # under the mutex, wait while nothing is new
    b.call(ext["lock"], [g["mutex"]])
    b.branch(sleep_wait)
    b.position_at_end(sleep_wait)
    idle = b.and_(
        b.icmp_unsigned("==", _atomic_load(b, g["gen"], I64), b.load(seen, typ=I64)),
        b.icmp_unsigned("==", _atomic_load(b, g["quit"], I32), I32(0)))
    with b.if_then(idle):
        b.call(ext["wait"], [g["cond"], g["mutex"]])
    b.cbranch(idle, sleep_wait, sleep_done)
    b.position_at_end(sleep_done)
    b.call(ext["unlock"], [g["mutex"]])
    b.branch(top)

    b.position_at_end(run)
    b.store(gen, seen)
    b.call(claim_fn, [gen])  # chunks are claimed, not assigned: tid only names the thread
    b.branch(top)

    b.position_at_end(leave)
    b.unreachable()
    return fn


def _emit_run(m, g, ext, claim_fn):
    fn = ir.Function(m, ir.FunctionType(VOID, [PTR, PTR]), RUN_SYMBOL)
    task, ctx = _as_task(fn.args[0]), fn.args[1]
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    running = b.icmp_unsigned("!=", _atomic_load(b, g["running"], I32), I32(0))
    serial = fn.append_basic_block("serial")
    claim = fn.append_basic_block("claim")
    go = fn.append_basic_block("go")
    b.cbranch(running, claim, serial)

    b.position_at_end(serial)
    b.call(task, [ctx, I32(0), I32(1)])
    b.ret_void()

    b.position_at_end(claim)  # one parallel region at a time; others run serially
    pair = b.cmpxchg(g["busy"], I32(0), I32(1), "acquire", "monotonic")
    b.cbranch(b.extract_value(pair, 1), go, serial)

    b.position_at_end(go)
    b.store(task, g["task"])
    b.store(ctx, g["ctx"])
    nth = b.load(g["nthreads"], typ=I32)
    # every chunk of the last generation is done, so `done` moves only with this one's
    target = b.add(_atomic_load(b, g["done"], I64), b.zext(nth, I64))
    new_gen = b.add(b.load(g["gen"], typ=I64), I64(1))  # only this thread posts (busy)
    _atomic_store(b, b.shl(new_gen, I64(8)), g["next"])  # chunk 0 of the new generation
    b.call(ext["lock"], [g["mutex"]])
    _atomic_store(b, new_gen, g["gen"])
    b.call(ext["broadcast"], [g["cond"]])
    b.call(ext["unlock"], [g["mutex"]])
    b.call(claim_fn, [new_gen])
    # Wait for chunks that workers claimed and are still running. A worker descheduled in
    # the middle of its chunk (a busy machine) needs a core: give ours up now and then.
    spins = b.alloca(I32)
    b.store(I32(0), spins)
    wait, spin, give_up, out = (fn.append_basic_block(n) for n in
                                ("wait", "spin", "yield", "out"))
    b.branch(wait)
    b.position_at_end(wait)
    finished = b.icmp_unsigned("==", _atomic_load(b, g["done"], I64), target)
    b.cbranch(finished, out, spin)
    b.position_at_end(spin)
    n = b.add(b.load(spins, typ=I32), I32(1))
    b.store(n, spins)
    _pause(b)
    b.cbranch(b.icmp_unsigned("==", b.and_(n, I32(YIELD_EVERY - 1)), I32(0)), give_up, wait)
    b.position_at_end(give_up)
    b.call(ext["yield"], [])
    b.branch(wait)
    b.position_at_end(out)
    _atomic_store(b, I32(0), g["busy"])
    b.ret_void()


def _emit_start(m, g, ext, worker):
    """i32 gk_pool_start(i32 nthreads): start nthreads-1 workers (no-op when running)."""
    fn = ir.Function(m, ir.FunctionType(I32, [I32]), "gk_pool_start")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    with b.if_then(b.icmp_unsigned("!=", b.load(g["running"], typ=I32), I32(0))):
        b.ret(I32(0))
    nth = fn.args[0]
    b.store(I32(0), g["quit"])
    b.store(b.load(g["gen"], typ=I64), g["start_gen"])
    b.store(nth, g["nthreads"])
    with _for_workers(fn, b, nth) as (iv, done):
        slot = b.gep(g["threads"], [I32(0), iv], inbounds=True)
        rc = b.call(ext["create"], [slot, ir.Constant(PTR, None), worker,
                                    b.inttoptr(b.zext(iv, I64), PTR)])
        with b.if_then(b.icmp_unsigned("!=", rc, I32(0))):  # could not start: stay serial
            b.store(iv, g["nthreads"])
            b.branch(done)
    _atomic_store(b, I32(1), g["running"])
    b.ret(b.load(g["nthreads"], typ=I32))


def _emit_stop(m, g, ext):
    fn = ir.Function(m, ir.FunctionType(VOID, []), "gk_pool_stop")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    with b.if_then(b.icmp_unsigned("==", b.load(g["running"], typ=I32), I32(0))):
        b.ret_void()
    _atomic_store(b, I32(0), g["running"])
    b.call(ext["lock"], [g["mutex"]])
    _atomic_store(b, I32(1), g["quit"])
    b.call(ext["broadcast"], [g["cond"]])
    b.call(ext["unlock"], [g["mutex"]])
    nth = b.load(g["nthreads"], typ=I32)
    with _for_workers(fn, b, nth) as (iv, _):
        handle = b.load(b.gep(g["threads"], [I32(0), iv], inbounds=True), typ=I64)
        b.call(ext["join"], [handle, ir.Constant(PTR, None)])
    b.store(I32(1), g["nthreads"])
    b.ret_void()


def _emit_forget(m, g):
    """After fork(): the child has no workers; reset the pool to 'not running'."""
    fn = ir.Function(m, ir.FunctionType(VOID, []), "gk_pool_forget")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    for name in ("running", "busy", "quit"):
        b.store(I32(0), g[name])
    b.store(I32(1), g["nthreads"])
    for name in ("mutex", "cond"):
        b.store(ir.Constant(g[name].value_type, None), g[name])
    b.ret_void()
