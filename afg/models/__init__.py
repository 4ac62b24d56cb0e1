"""Model registry and one short file per paper. ``create_model(name, num_classes, ...)``."""
from .base import AffectModel
from .registry import create_model, list_models, model_from_config, register_model

# Importing the paper files registers their models.
from . import baseline, me_graphau, mafg_ccfg, au_gcn, emotion_gcn, svml_rgcn  # noqa: E402,F401

__all__ = ["AffectModel", "create_model", "list_models", "model_from_config", "register_model"]
