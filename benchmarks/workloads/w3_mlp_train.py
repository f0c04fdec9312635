"""W3 mlp_train: W1's MLP without softmax, sparse categorical crossentropy from logits,
Adam(1e-3); one call = forward + backward + update on a batch of 128.

The check compares the first step's loss and the weights after three steps with a float64
NumPy run of the same three steps.
"""
import numpy as np

from benchmarks import peers
from benchmarks.harness import Runner
from benchmarks.workloads import adam, dense_stack
from benchmarks.workloads.base import Workload, dense_params, f64, memoized_reference, rng

BATCH, SIZES, CLASSES = 128, (784, 512, 512, 10), 10
CHECK_STEPS = 3


def make_data():
    gen = rng(3)
    return {"params": dense_params(gen, SIZES),
            "x": gen.uniform(0.0, 1.0, (BATCH, SIZES[0])).astype(np.float32),
            "y": gen.integers(0, CLASSES, BATCH).astype(np.int32)}


# --- NumPy: hand-written backward (also the float64 reference) ---

class NumpyMLPTrainer:
    def __init__(self, params, x, y, dtype=np.float32):
        self.params = [np.array(p, dtype) for p in params]
        self.x, self.y = np.asarray(x, dtype), np.asarray(y)
        self.rows = np.arange(len(self.y))
        self.optimizer = adam.NumpyAdam(self.params)

    def loss_and_grads(self, params):
        acts = []
        logits = dense_stack.numpy_forward(params, self.x, keep=acts)
        shifted = logits - logits.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        total = exp.sum(axis=1, keepdims=True)
        loss = np.mean(np.log(total[:, 0]) - shifted[self.rows, self.y])
        grad = exp / total                        # d loss / d logits = (softmax - onehot) / B
        grad[self.rows, self.y] -= 1.0
        grad /= len(self.y)
        grads = [None] * len(params)
        for i in reversed(range(len(params) // 2)):
            layer_input = self.x if i == 0 else acts[i - 1]
            grads[2 * i] = layer_input.T @ grad
            grads[2 * i + 1] = grad.sum(axis=0)
            if i > 0:
                grad = grad @ params[2 * i].T
                grad *= acts[i - 1] > 0            # relu'
        return loss, grads

    def step(self):
        loss, grads = self.loss_and_grads(self.params)
        self.optimizer.apply(self.params, grads)
        return loss


def _reference(data):
    trainer = NumpyMLPTrainer(f64(data["params"]), data["x"], data["y"], np.float64)
    first_loss = trainer.step()
    for _ in range(CHECK_STEPS - 1):
        trainer.step()
    return [np.float64(first_loss), trainer.params]


def numpy_peer(d):
    trainer = NumpyMLPTrainer(d["params"], d["x"], d["y"])
    return Runner(call=trainer.step, params=lambda: trainer.params)


# --- JAX ---

def jax_peer(d):
    jax = peers.jax()
    jnp = jax.numpy

    def loss_fn(params, x, y):
        logits = dense_stack.jax_forward(params, x)
        picked = jnp.take_along_axis(logits, y[:, None], axis=1)[:, 0]
        return jnp.mean(jax.nn.logsumexp(logits, axis=1) - picked)

    def step(params, m, v, t, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        t = t + 1.0
        params, m, v = adam.jax_adam(params, grads, m, v, t)
        return params, m, v, t, loss

    return jax_train_runner(jax, step, d["params"], (d["x"], d["y"]))


def jax_train_runner(jax, step, params, batch):
    """Run a jitted `step(params, m, v, t, *batch) -> (params, m, v, t, loss)`.

    The state buffers are donated, so XLA updates the weights in place as a real training
    loop would.
    """
    fn = jax.jit(step, donate_argnums=(0, 1, 2, 3))
    jnp = jax.numpy
    state = {"p": [jnp.asarray(a) for a in params],
             "m": [jnp.zeros_like(a) for a in params],
             "v": [jnp.zeros_like(a) for a in params],
             "t": jnp.zeros((), jnp.float32)}
    batch = [jax.device_put(b) for b in batch]

    def call():
        state["p"], state["m"], state["v"], state["t"], loss = fn(
            state["p"], state["m"], state["v"], state["t"], *batch)
        return loss.block_until_ready()
    return Runner(call=call, params=lambda: [np.asarray(p) for p in state["p"]])


# --- PyTorch ---

def torch_peer(d, compiled):
    torch = peers.torch()
    x, y = torch.from_numpy(d["x"]), torch.from_numpy(d["y"].astype(np.int64))

    def loss_fn(params, xx, yy):
        return torch.nn.functional.cross_entropy(dense_stack.torch_forward(torch, params, xx), yy)

    return torch_train_runner(torch, loss_fn, d["params"], (x, y), compiled)


def torch_train_runner(torch, loss_fn, params, batch, compiled):
    """Forward + backward + Keras Adam. Compiled: torch.compile on the loss (forward and,
    through AOTAutograd, backward) and on the update."""
    p = [torch.tensor(a, requires_grad=True) for a in params]
    m = [torch.zeros_like(a) for a in p]
    v = [torch.zeros_like(a) for a in p]
    state = {"t": 0}
    forward = torch.compile(loss_fn) if compiled else loss_fn
    update = torch.compile(adam.torch_adam_loop) if compiled else None

    def call():
        for param in p:
            param.grad = None
        loss = forward(p, *batch)
        loss.backward()
        state["t"] += 1
        grads = [param.grad for param in p]
        if compiled:
            with torch.no_grad():
                update(p, grads, m, v, torch.tensor(adam.alpha(state["t"]), dtype=torch.float32))
        else:
            adam.torch_adam_foreach(torch, p, grads, m, v, state["t"])
        return loss.detach()
    return Runner(call=call, params=lambda: [a.detach().numpy() for a in p])


# --- Keras 3 and graphkit: model.compile + train_on_batch, the same user code ---

def keras_style_trainer(k, d, **compile_kwargs):
    model = dense_stack.keras_style_model(k, d["params"], softmax=False)
    model.compile(optimizer=k.optimizers.Adam(learning_rate=adam.LR),
                  loss=k.losses.SparseCategoricalCrossentropy(from_logits=True),
                  **compile_kwargs)
    return train_on_batch_runner(model, d["x"], d["y"], with_stats=k.__name__ == "graphkit")


def train_on_batch_runner(model, x, y, with_stats):
    return Runner(call=lambda: model.train_on_batch(x, y), params=model.get_weights,
                  stats=(lambda: graphkit_train_stats(model, x, y)) if with_stats else None)


def graphkit_train_stats(model, x, y=None):
    """The compiled train step's stats (memory plan included), lowered for this batch."""
    step = getattr(model, "train_function", None)
    if step is None or not getattr(step, "is_compiled", False):
        return {"n/a": "the model has no compiled train function"}
    return step.lower(x, y).stats()


# --- tinygrad ---

def tinygrad_peer(d):
    tinygrad = peers.tinygrad()
    Tensor = tinygrad.Tensor
    x, y = Tensor(d["x"]).realize(), Tensor(d["y"]).realize()

    def loss_fn(params, xx, yy):
        return dense_stack.tinygrad_forward(params, xx).sparse_categorical_crossentropy(yy)

    return tinygrad_train_runner(tinygrad, loss_fn, d["params"], (x, y))


def tinygrad_train_runner(tinygrad, loss_fn, params, batch):
    Tensor = tinygrad.Tensor
    p = [Tensor(a).realize() for a in params]
    m = [Tensor.zeros(*a.shape).contiguous().realize() for a in params]
    v = [Tensor.zeros(*a.shape).contiguous().realize() for a in params]
    t = Tensor.zeros(()).contiguous().realize()

    @tinygrad.TinyJit
    def step(*batch_tensors):
        loss = loss_fn(p, *batch_tensors)
        grads = loss.gradient(*p)      # only the weights' gradients (not the data's)
        Tensor.realize(loss, *adam.tinygrad_adam(p, grads, m, v, t))
        return loss

    def call():
        loss = step(*batch)
        peers.tinygrad_sync()
        return loss
    return Runner(call=call, params=lambda: [a.numpy() for a in p])


# --- graphkit rows ---

def graphkit_peer(d, compiled):
    gk = peers.graphkit()
    mode = {"jit_compile": True} if compiled else {"run_eagerly": True}
    return keras_style_trainer(gk, d, **mode)


_TRAIN_FLOPS = sum(a * b for a, b in zip(SIZES[:-1], SIZES[1:]))
WORKLOAD = Workload(
    id="W3", name="mlp_train",
    what="W1 MLP (no softmax) + sparse CE from logits + Adam(1e-3), one step, batch 128",
    make_data=make_data, reference=memoized_reference(_reference),
    peers={
        "numpy": numpy_peer,
        "jax.jit": jax_peer,
        "torch eager": lambda d: torch_peer(d, False),
        "torch.compile": lambda d: torch_peer(d, True),
        "keras (jax)": lambda d: keras_style_trainer(peers.keras(), d),
        "tinygrad": tinygrad_peer,
        "graphkit eager": lambda d: graphkit_peer(d, False),
        "graphkit compiled": lambda d: graphkit_peer(d, True),
    },
    tolerance=1e-4,
    check_steps=CHECK_STEPS,
    # forward + weight gradients + input gradients of layers 2 and 3 (not of the data)
    flops=2 * BATCH * (2 * _TRAIN_FLOPS + _TRAIN_FLOPS - SIZES[0] * SIZES[1]),
    floor_note=" (fwd + dW + dX, no dX for the data)",
)
