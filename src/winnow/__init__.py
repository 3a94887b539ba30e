"""Winnow: a lead qualification engine. Scoring as code, explainable, real-time."""

__version__ = "0.1.0"
