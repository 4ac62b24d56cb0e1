"""Loss functions per task. Re-exported here."""
from .au import *  # noqa: F401,F403
from .au_gcn import *  # noqa: F401,F403
from .emotion import *  # noqa: F401,F403
