"""Metrics per task (vectorised; scikit-learn where it has the metric). Re-exported here."""
from .au import *  # noqa: F401,F403
from .expression import *  # noqa: F401,F403
from .multilabel import *  # noqa: F401,F403
