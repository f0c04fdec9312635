"""`gk.debugging`: tools to find where a computation goes wrong. A flat list of imports."""
from graphkit.debugging.numerics import (check_numerics_enabled, disable_check_numerics,
                                         enable_check_numerics, numerics_checked)
from graphkit.debugging.compare import CompareReport, compare
from graphkit.debugging.diff import ulp_distance
