"""The three kinds of value: eager `Tensor`, `Variable`, and (in models/) `KerasTensor`."""
