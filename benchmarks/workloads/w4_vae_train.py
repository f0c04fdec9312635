"""W4 vae_train: the seed guide's VAE, one Adam(1e-3) step on x (64, 784) uniform in [0, 1].

Encoder Dense(64, relu) -> z_mean Dense(32), z_log_var Dense(32);
z = z_mean + exp(0.5 z_log_var) * eps; decoder Dense(64, relu) -> Dense(784, sigmoid).
loss = MSE(x, recon) + KL, KL = -0.5 * mean(z_log_var - z_mean^2 - exp(z_log_var) + 1).

eps is an input (a fixed standard-normal batch), not drawn inside the step, so that every
peer computes the same numbers and can be checked against the float64 reference.
Small and overhead-bound: the arithmetic is about 20 MFLOP.
"""
import numpy as np

from benchmarks import peers
from benchmarks.harness import Runner
from benchmarks.workloads import adam
from benchmarks.workloads.base import Workload, f64, glorot_uniform, memoized_reference, rng
from benchmarks.workloads.w3_mlp_train import (CHECK_STEPS, graphkit_train_stats,
                                               jax_train_runner, tinygrad_train_runner,
                                               torch_train_runner)

BATCH, ORIGINAL, INTERMEDIATE, LATENT = 64, 784, 64, 32
# (layer name, fan in, fan out), in the order the weights are listed everywhere
LAYERS = (("enc", ORIGINAL, INTERMEDIATE), ("z_mean", INTERMEDIATE, LATENT),
          ("z_log_var", INTERMEDIATE, LATENT), ("dec", LATENT, INTERMEDIATE),
          ("recon", INTERMEDIATE, ORIGINAL))


def make_data():
    gen = rng(4)
    params = []
    for _, fan_in, fan_out in LAYERS:
        params.append(glorot_uniform(gen, fan_in, fan_out))
        params.append((0.1 * gen.standard_normal(fan_out)).astype(np.float32))
    return {"params": params,
            "x": gen.uniform(0.0, 1.0, (BATCH, ORIGINAL)).astype(np.float32),
            "eps": gen.standard_normal((BATCH, LATENT)).astype(np.float32)}


# --- NumPy: hand-written backward (also the float64 reference) ---

class NumpyVAETrainer:
    def __init__(self, params, x, eps, dtype=np.float32):
        self.params = [np.array(p, dtype) for p in params]
        self.x, self.eps = np.asarray(x, dtype), np.asarray(eps, dtype)
        self.optimizer = adam.NumpyAdam(self.params)

    def loss_and_grads(self, params):
        w_enc, b_enc, w_mu, b_mu, w_lv, b_lv, w_dec, b_dec, w_out, b_out = params
        x, eps = self.x, self.eps
        h = np.maximum(x @ w_enc + b_enc, 0)
        z_mean = h @ w_mu + b_mu
        z_log_var = h @ w_lv + b_lv
        std = np.exp(0.5 * z_log_var)
        z = z_mean + std * eps
        h2 = np.maximum(z @ w_dec + b_dec, 0)
        recon = 1.0 / (1.0 + np.exp(-(h2 @ w_out + b_out)))
        diff = recon - x
        var = std * std
        latent_count = z_mean.size
        loss = np.mean(diff * diff) - 0.5 * np.mean(z_log_var - z_mean ** 2 - var + 1.0)

        d_logit = (2.0 / diff.size) * diff * recon * (1.0 - recon)
        d_h2 = (d_logit @ w_out.T) * (h2 > 0)
        d_z = d_h2 @ w_dec.T
        d_mean = d_z + z_mean / latent_count                        # KL term: zm / M
        d_log_var = d_z * 0.5 * std * eps - 0.5 * (1.0 - var) / latent_count
        d_h = (d_mean @ w_mu.T + d_log_var @ w_lv.T) * (h > 0)
        grads = [x.T @ d_h, d_h.sum(0), h.T @ d_mean, d_mean.sum(0), h.T @ d_log_var,
                 d_log_var.sum(0), z.T @ d_h2, d_h2.sum(0), h2.T @ d_logit, d_logit.sum(0)]
        return loss, grads

    def step(self):
        loss, grads = self.loss_and_grads(self.params)
        self.optimizer.apply(self.params, grads)
        return loss


def _reference(data):
    trainer = NumpyVAETrainer(f64(data["params"]), data["x"], data["eps"], np.float64)
    first_loss = trainer.step()
    for _ in range(CHECK_STEPS - 1):
        trainer.step()
    return [np.float64(first_loss), trainer.params]


def numpy_peer(d):
    trainer = NumpyVAETrainer(d["params"], d["x"], d["eps"])
    return Runner(call=trainer.step, params=lambda: trainer.params)


# --- JAX / PyTorch / tinygrad: one loss function over an ops namespace ---

def vae_loss(params, x, eps, relu, sigmoid, exp, mean):
    w_enc, b_enc, w_mu, b_mu, w_lv, b_lv, w_dec, b_dec, w_out, b_out = params
    h = relu(x @ w_enc + b_enc)
    z_mean = h @ w_mu + b_mu
    z_log_var = h @ w_lv + b_lv
    z = z_mean + exp(0.5 * z_log_var) * eps
    recon = sigmoid(relu(z @ w_dec + b_dec) @ w_out + b_out)
    diff = x - recon
    kl = -0.5 * mean(z_log_var - z_mean * z_mean - exp(z_log_var) + 1.0)
    return mean(diff * diff) + kl


def jax_peer(d):
    jax = peers.jax()
    jnp = jax.numpy

    def loss_fn(params, x, eps):
        return vae_loss(params, x, eps, jax.nn.relu, jax.nn.sigmoid, jnp.exp, jnp.mean)

    def step(params, m, v, t, x, eps):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, eps)
        t = t + 1.0
        params, m, v = adam.jax_adam(params, grads, m, v, t)
        return params, m, v, t, loss

    return jax_train_runner(jax, step, d["params"], (d["x"], d["eps"]))


def torch_peer(d, compiled):
    torch = peers.torch()

    def loss_fn(params, x, eps):
        return vae_loss(params, x, eps, torch.relu, torch.sigmoid, torch.exp, torch.mean)

    batch = (torch.from_numpy(d["x"]), torch.from_numpy(d["eps"]))
    return torch_train_runner(torch, loss_fn, d["params"], batch, compiled)


def tinygrad_peer(d):
    tinygrad = peers.tinygrad()
    Tensor = tinygrad.Tensor

    def loss_fn(params, x, eps):
        return vae_loss(params, x, eps, Tensor.relu, Tensor.sigmoid, Tensor.exp, Tensor.mean)

    batch = (Tensor(d["x"]).realize(), Tensor(d["eps"]).realize())
    return tinygrad_train_runner(tinygrad, loss_fn, d["params"], batch)


# --- Keras 3 and graphkit: the seed guide's model, as the same user code ---

def keras_style_vae(k, d, **compile_kwargs):
    """Functional VAE; the KL term is added with add_loss by the sampling layer."""

    class KLSampling(k.layers.Layer):
        def call(self, inputs):
            z_mean, z_log_var, eps = inputs
            self.add_loss(-0.5 * k.ops.mean(
                z_log_var - k.ops.square(z_mean) - k.ops.exp(z_log_var) + 1.0))
            return z_mean + k.ops.exp(0.5 * z_log_var) * eps

    x_in = k.Input(shape=(ORIGINAL,), name="x")
    eps_in = k.Input(shape=(LATENT,), name="eps")
    h = k.layers.Dense(INTERMEDIATE, activation="relu", name="enc")(x_in)
    z_mean = k.layers.Dense(LATENT, name="z_mean")(h)
    z_log_var = k.layers.Dense(LATENT, name="z_log_var")(h)
    z = KLSampling(name="sampling")([z_mean, z_log_var, eps_in])
    h2 = k.layers.Dense(INTERMEDIATE, activation="relu", name="dec")(z)
    recon = k.layers.Dense(ORIGINAL, activation="sigmoid", name="recon")(h2)
    model = k.Model([x_in, eps_in], recon)
    for i, (name, _, _) in enumerate(LAYERS):
        model.get_layer(name).set_weights(d["params"][2 * i: 2 * i + 2])
    model.compile(optimizer=k.optimizers.Adam(learning_rate=adam.LR),
                  loss=k.losses.MeanSquaredError(), **compile_kwargs)

    def params():
        return [w for name, _, _ in LAYERS for w in model.get_layer(name).get_weights()]

    feed = [d["x"], d["eps"]]
    return Runner(call=lambda: model.train_on_batch(feed, d["x"]), params=params,
                  stats=(lambda: graphkit_train_stats(model, feed, d["x"])) if k.__name__ == "graphkit"
                  else None)


def graphkit_peer(d, compiled):
    mode = {"jit_compile": True} if compiled else {"run_eagerly": True}
    return keras_style_vae(peers.graphkit(), d, **mode)


WORKLOAD = Workload(
    id="W4", name="vae_train", what="seed-guide VAE (784-64-32-64-784) + MSE + KL, Adam, batch 64",
    make_data=make_data, reference=memoized_reference(_reference),
    peers={
        "numpy": numpy_peer,
        "jax.jit": jax_peer,
        "torch eager": lambda d: torch_peer(d, False),
        "torch.compile": lambda d: torch_peer(d, True),
        "keras (jax)": lambda d: keras_style_vae(peers.keras(), d),
        "tinygrad": tinygrad_peer,
        "graphkit eager": lambda d: graphkit_peer(d, False),
        "graphkit compiled": lambda d: graphkit_peer(d, True),
    },
    tolerance=1e-4,
    check_steps=CHECK_STEPS,
    floor_note="overhead-bound (BENCHMARKS gives no floor)",
)
