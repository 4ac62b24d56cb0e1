"""Graph priors and adjacency builders (NumPy in, NumPy/torch out). Re-exported here."""
from .cooccurrence import *  # noqa: F401,F403
from .edges import *  # noqa: F401,F403
from .emotion import *  # noqa: F401,F403
from .knn import *  # noqa: F401,F403
from .normalize import *  # noqa: F401,F403
from .relations import *  # noqa: F401,F403
