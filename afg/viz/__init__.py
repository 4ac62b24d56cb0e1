"""Every figure afg draws, as functions returning matplotlib Figures; ``save_figure`` exports."""
from .export import *  # noqa: F401,F403
