"""Normalization layers: BatchNormalization, LayerNormalization, GroupNormalization,
UnitNormalization."""
from graphkit.layers.normalization.batch_normalization import BatchNormalization
from graphkit.layers.normalization.group_normalization import GroupNormalization
from graphkit.layers.normalization.layer_normalization import LayerNormalization
from graphkit.layers.normalization.unit_normalization import UnitNormalization
