"""`traitforge run PIPELINE.toml`: the stages chained, each skipped when unchanged."""
from traitforge.pipeline.config import Arm, Pipeline, load_pipeline
from traitforge.pipeline.run import UI, run_pipeline

__all__ = ["Arm", "Pipeline", "UI", "load_pipeline", "run_pipeline"]
