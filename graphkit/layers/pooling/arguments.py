"""Argument checks shared by the pooling, convolution and reshaping layers."""


def normalize_tuple(value, n, name, layer, allow_zero=False):
    """An int or a sequence of `n` positive ints (non-negative with `allow_zero`) -> a
    tuple of `n` ints (as Keras's `standardize_tuple`); anything else is an error naming
    the layer and argument."""
    if isinstance(value, int) and not isinstance(value, bool):
        values = (value,) * n
    else:
        try:
            values = tuple(value)
        except TypeError:
            values = None
        if values is None or len(values) != n or not all(
                isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise ValueError(f"{layer}: `{name}` must be an int or a tuple of {n} ints. "
                             f"Received: {name}={value!r}")
    if any(v < 0 or (v == 0 and not allow_zero) for v in values):
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{layer}: every entry of `{name}` must be {kind}. "
                         f"Received: {name}={value!r}")
    return values


def normalize_padding(padding, layer, allowed=("valid", "same")):
    mode = padding.lower() if isinstance(padding, str) else padding
    if mode not in allowed:
        raise ValueError(f"{layer}: `padding` must be one of {list(allowed)}. "
                         f"Received: padding={padding!r}")
    return mode


def normalize_data_format(data_format, layer):
    fmt = "channels_last" if data_format is None else data_format
    if fmt not in ("channels_last", "channels_first"):
        raise ValueError(f"{layer}: `data_format` must be 'channels_last' or "
                         f"'channels_first'. Received: data_format={data_format!r}")
    return fmt


def set_conv_window(layer, where, kernel_size, strides, dilation_rate, padding, data_format,
                    paddings=("valid", "same")):
    """A convolution's window arguments, checked and set on `layer` (which has `rank`):
    kernel_size, strides, dilation_rate (tuples), padding and data_format."""
    layer.kernel_size = normalize_tuple(kernel_size, layer.rank, "kernel_size", where)
    layer.strides = normalize_tuple(strides, layer.rank, "strides", where)
    layer.dilation_rate = normalize_tuple(dilation_rate, layer.rank, "dilation_rate", where)
    if max(layer.strides) > 1 and max(layer.dilation_rate) > 1:
        raise ValueError(f"{where}: `strides` > 1 is not compatible with "
                         f"`dilation_rate` > 1. Received: strides={layer.strides}, "
                         f"dilation_rate={layer.dilation_rate}")
    layer.padding = normalize_padding(padding, where, paddings)
    layer.data_format = normalize_data_format(data_format, where)


def window_output_length(length, window, stride, padding, dilation=1):
    """Keras's output length of a sliding window along one axis (None stays None)."""
    if length is None:
        return None
    if padding == "same":
        return (length + stride - 1) // stride
    span = dilation * (window - 1) + 1
    return (length - span) // stride + 1 if length >= span else 0


def check_output_size(where, input_shape, spatial_output, padding, **arguments):
    """Keras's check: with "valid" padding, a window longer than a known input dim leaves
    an output dim of zero, which is an error rather than an empty tensor."""
    if padding != "valid" or all(d is None or d > 0 for d in spatial_output):
        return
    received = ", ".join(f"{name}={value}" for name, value in arguments.items())
    raise ValueError(f"{where}: the computed output size would be zero or negative (with "
                     f"padding='valid' every window must fit in the input). Received: "
                     f"input_shape={tuple(input_shape)}, {received}")
