"""afg — graph-based facial affect recognition.

Five systems built from shared modules: ME-GraphAU (IJCAI 2022), MAFG+CCFG (Li et al. 2025),
AU-GCN (Liu et al. 2020), Emotion-GCN (FG 2021) and SVML-RGCN. See README.md.
"""
__version__ = "0.1.0"

__all__ = ["Predictor", "__version__"]


def __getattr__(name: str):  # lazy: `import afg` stays cheap
    if name == "Predictor":
        from .predict import Predictor  # local: PEP 562 attribute, so `import afg` stays torch-free

        return Predictor
    raise AttributeError(f"module 'afg' has no attribute {name!r}")
