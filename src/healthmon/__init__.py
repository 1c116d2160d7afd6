"""healthmon: watches the health of web servers."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("healthmon")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
