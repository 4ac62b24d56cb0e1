"""Loss functions per task. Re-exported here."""
from .au import *
from .au_gcn import *
from .emotion import *
