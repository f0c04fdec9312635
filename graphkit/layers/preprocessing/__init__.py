"""Preprocessing layers: Normalization (with adapt) and Rescaling."""
