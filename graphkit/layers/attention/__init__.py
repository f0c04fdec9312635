"""Attention layers: MultiHeadAttention, Attention, AdditiveAttention."""
from graphkit.layers.attention.additive_attention import AdditiveAttention
from graphkit.layers.attention.attention import Attention
from graphkit.layers.attention.multi_head_attention import MultiHeadAttention
