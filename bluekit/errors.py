"""The base of the kit's own errors: a mistake a user can fix from the message alone (a config
key, a data file and line, a download, a reward, a template, a model that cannot load).

`python -m bluekit` prints such an error as one line and exits with status 2 (`--debug` shows
the traceback); any other exception is a bug and keeps its traceback.
"""


class KitError(Exception):
    """An error whose message says what to fix; see the module docstring."""


class FileFormatError(KitError):
    """A file of a run, a study or a published run is missing, truncated or corrupt: the message
    names it (bluekit.atomic.read_json, the loaders of run folders)."""
