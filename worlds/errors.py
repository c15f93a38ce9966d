"""The project's error types: every failure a user can cause (a bad file, a bad config, a run
folder in use, a disk that fills up) is one of these, with a one-line message naming the file
or the setting and what is wrong. All are `ValueError`s, so `except ValueError` still works;
the `arena` command line prints them as one line and exits with status 2.
"""

from __future__ import annotations


class ArenaError(ValueError):
    """Base of Grid Arena's own errors."""


class ConfigError(ArenaError):
    """A scenario or run setting of the wrong type, out of range, or unknown."""


class BadFileError(ArenaError):
    """A map, record, checkpoint or run checkpoint that is malformed, corrupt or hostile."""


class SaveError(ArenaError):
    """A file could not be written (disk full, no permission); nothing was left half-written."""


class RunLockedError(ArenaError):
    """A run folder is in use by another `arena train` process."""
