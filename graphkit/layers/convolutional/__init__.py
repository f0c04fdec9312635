"""Convolution layers: Conv1D, Conv2D."""
from graphkit.layers.convolutional.conv import Conv1D, Conv2D
