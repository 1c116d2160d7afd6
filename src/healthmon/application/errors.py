"""Errors raised by the application layer on top of the domain's."""

from healthmon.domain.errors import HealthmonError


class StorageUnavailable(HealthmonError):
    """The store cannot be reached right now; the operation did nothing and may be retried."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(f"The database is unavailable: {detail}")


class StorageRejected(HealthmonError):
    """The store refused an operation that no retry will fix: a missing or outdated schema, or a bug."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(f"The database rejected the operation: {detail}")


class DatabaseConfigurationError(HealthmonError):
    """The database URL is unusable: not a URL, or a database or driver healthmon does not support."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"Cannot use the database URL {url}: {reason}")


class AnotherWorkerRunning(HealthmonError):
    """A worker already runs on this database, and this store allows only one."""

    def __init__(self, database: str, detail: str) -> None:
        self.database = database
        super().__init__(f"Another healthmon worker already runs on {database}: {detail}")
