"""TokenStats: the national token statistics pipeline (ingest, validate, aggregate, publish)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tokenstats")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"
