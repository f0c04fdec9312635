"""Normalization layers: BatchNormalization, LayerNormalization."""
from graphkit.layers.normalization.batch_normalization import BatchNormalization
from graphkit.layers.normalization.layer_normalization import LayerNormalization
