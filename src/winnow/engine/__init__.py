"""The scoring engine: a spec compiled to Ibis, run on DuckDB or inside the store's database."""

from winnow.engine.compile import Inputs, Layout, Plan, compile_scores
from winnow.engine.result import FitHit, PersonScore, RuleContribution
from winnow.engine.run import score_duckdb, score_frames, score_store, to_scores

__all__ = [
    "FitHit",
    "Inputs",
    "Layout",
    "PersonScore",
    "Plan",
    "RuleContribution",
    "compile_scores",
    "score_duckdb",
    "score_frames",
    "score_store",
    "to_scores",
]
