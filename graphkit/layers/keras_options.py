"""Keras 3.15 constructor options that graphkit has no feature behind (quantization, batch
renormalization, gated and sliding-window attention). They are taken at Keras's defaults, so
the configs Keras writes load here (and graphkit's configs carry them, as Keras's do); any
other value is refused with an error naming the option."""


def take_default_options(layer_class, kwargs, defaults):
    """Pop `defaults`' options from `kwargs`; each must be absent or equal its default."""
    for option, default in defaults.items():
        value = kwargs.pop(option, default)
        if value is not default and value != default:
            raise ValueError(
                f"{layer_class}: `{option}` is not supported by graphkit; only Keras's "
                f"default ({default!r}) is accepted. Received: {option}={value!r}")


QUANTIZATION = {"quantization_config": None}
BATCH_RENORM = {"renorm": False, "renorm_clipping": None, "renorm_momentum": 0.99}
ATTENTION_VARIANTS = {"use_gate": False, "sliding_window": None}
