"""Scoring as code: the spec document, its expression language, loading and validation."""

from winnow.spec.errors import SpecError, SpecInvalid
from winnow.spec.load import Spec, load_spec, load_spec_file

__all__ = ["Spec", "SpecError", "SpecInvalid", "load_spec", "load_spec_file"]
