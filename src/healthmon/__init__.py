"""healthmon: watches the health of web servers."""

# The one place the version is written: pyproject.toml reads it from here (a dynamic version).
__version__ = "0.1.0"
