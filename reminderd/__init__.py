"""reminderd: reminds you to switch a time-limited usage credit off before it bills you."""

__version__ = "0.1.0"
