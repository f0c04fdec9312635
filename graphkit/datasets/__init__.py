"""`gk.datasets`: small data sets for examples and tests (`digits` is shipped; `mnist`
reads the standard IDX files from a local folder)."""
from graphkit.datasets import digits, mnist
