"""Reusable layers, one idea per module. Everything public is re-exported here."""
from ..graphs.knn import knn_adjacency
from ..graphs.normalize import normalize_digraph
from .attention import *
from .blocks import *
from .ccfg import *
from .fgg import *
from .gated_gcn import *
from .gcn import *
from .heads import *
from .mafg import *
from .mefl import *
from .mfb import *
from .rgcn import *
from .roi_ae import *
