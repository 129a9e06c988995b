"""A toy language model built on dilated_attention_pytorch 0.2."""

from legacy_app.model import TinyLM, build_model

__all__ = ["TinyLM", "build_model"]
