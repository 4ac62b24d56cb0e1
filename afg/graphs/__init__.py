"""Graph priors and adjacency builders (NumPy in, NumPy/torch out). Re-exported here."""
from .cooccurrence import *
from .edges import *
from .emotion import *
from .knn import *
from .normalize import *
from .relations import *
