"""Errors raised by the application layer on top of the domain's."""

from healthmon.domain.errors import HealthmonError


class StorageUnavailable(HealthmonError):
    """The store cannot be reached right now; the operation did nothing and may be retried."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(f"The database is unavailable: {detail}")
