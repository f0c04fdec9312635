"""Attention layers: MultiHeadAttention."""
from graphkit.layers.attention.multi_head_attention import MultiHeadAttention
