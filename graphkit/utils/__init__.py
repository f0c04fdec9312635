"""`gk.utils`: helpers. A flat list of imports; each helper lives in its own module."""
from graphkit.utils.random_seed import set_random_seed
