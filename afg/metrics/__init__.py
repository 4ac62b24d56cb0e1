"""Metrics per task (vectorised; scikit-learn where it has the metric). Re-exported here."""
from .au import *
from .expression import *
from .multilabel import *
from .chance import *
