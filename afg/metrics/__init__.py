"""Metrics per task (vectorised; scikit-learn where it has the metric). Re-exported here."""
from .au import *
from .chance import *
from .expression import *
from .multilabel import *
