"""Loss functions per task, and the criteria the models' ``build_criterion`` return. Re-exported here."""
from .au import *
from .au_gcn import *
from .baseline import *
from .emotion import *
from .multilabel import *
