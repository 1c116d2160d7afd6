"""The REST API (Litestar): create_app() builds it on a container."""

from healthmon.entrypoints.http.app import HTTP_USE_CASES, create_app

__all__ = ["HTTP_USE_CASES", "create_app"]
