"""The model seam: the ``Model`` Protocol, the HTTP client (``openai``) and a scripted fake (``fake``),
chosen by kind through ``get_model``."""

from forager.model.base import Completion, Model, ModelConfig, ModelError, ToolCall
from forager.model.registry import get_model, register_model

__all__ = ["Completion", "Model", "ModelConfig", "ModelError", "ToolCall", "get_model", "register_model"]
