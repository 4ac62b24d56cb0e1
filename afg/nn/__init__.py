"""Reusable layers, one idea per module. Everything public is re-exported here."""
from .attention import *  # noqa: F401,F403
from .blocks import *  # noqa: F401,F403
from .ccfg import *  # noqa: F401,F403
from .fgg import *  # noqa: F401,F403
from .gated_gcn import *  # noqa: F401,F403
from .gcn import *  # noqa: F401,F403
from .heads import *  # noqa: F401,F403
from .mafg import *  # noqa: F401,F403
from .mefl import *  # noqa: F401,F403
from .mfb import *  # noqa: F401,F403
from .rgcn import *  # noqa: F401,F403
from .roi_ae import *  # noqa: F401,F403
from ..graphs.knn import knn_adjacency  # noqa: F401  (re-exported for convenience)
from ..graphs.normalize import normalize_digraph  # noqa: F401
