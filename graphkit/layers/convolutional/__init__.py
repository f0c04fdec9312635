"""Convolution layers: Conv1D/2D/3D, Conv1D/2D/3DTranspose, DepthwiseConv1D/2D and
SeparableConv1D/2D."""
from graphkit.layers.convolutional.conv import Conv1D, Conv2D, Conv3D
from graphkit.layers.convolutional.conv_transpose import (Conv1DTranspose, Conv2DTranspose,
                                                          Conv3DTranspose)
from graphkit.layers.convolutional.depthwise_conv import DepthwiseConv1D, DepthwiseConv2D
from graphkit.layers.convolutional.separable_conv import SeparableConv1D, SeparableConv2D
