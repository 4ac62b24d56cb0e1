"""Model registry and one short file per paper. ``create_model(name, num_classes, ...)``."""
# Importing the paper files registers their models.
from . import au_gcn, baseline, emotion_gcn, mafg_ccfg, me_graphau, svml_rgcn
from .base import AffectModel
from .registry import create_model, list_models, model_from_config, register_model

__all__ = ["AffectModel", "create_model", "list_models", "model_from_config", "register_model"]
