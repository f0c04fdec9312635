"""IR passes, one module each, run in order by `manager.run_pipeline`."""
from graphkit.ir.passes.manager import (DEFAULT_PIPELINE, OPTIMIZE_PIPELINE, PASSES, PassError,
                                        PipelineResult, get_pass, run_pipeline)

__all__ = ["DEFAULT_PIPELINE", "OPTIMIZE_PIPELINE", "PASSES", "PassError", "PipelineResult",
           "get_pass", "run_pipeline"]
