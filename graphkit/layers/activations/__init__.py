"""Activation layers with arguments or weights of their own (ReLU, LeakyReLU, ELU, PReLU,
Softmax); `Activation` (in core) wraps a plain activation function."""
