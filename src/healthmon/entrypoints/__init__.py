"""Entry points: the command line, the worker and the HTTP API."""
