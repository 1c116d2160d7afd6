"""The SQLAlchemy unit of work: one Session, and so one transaction, per `with` block."""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import TracebackType
from typing import Self

from sqlalchemy.orm import Session, sessionmaker

from healthmon.adapters.sqlalchemy.channel_repository import SqlAlchemyChannelRepository
from healthmon.adapters.sqlalchemy.delivery_repository import SqlAlchemyDeliveryRepository
from healthmon.adapters.sqlalchemy.dialects import statements_for
from healthmon.adapters.sqlalchemy.errors import translated_errors
from healthmon.adapters.sqlalchemy.event_repository import SqlAlchemyEventRepository
from healthmon.adapters.sqlalchemy.probe_result_repository import SqlAlchemyProbeResultRepository
from healthmon.adapters.sqlalchemy.rollup_repository import SqlAlchemyRollupRepository
from healthmon.adapters.sqlalchemy.webserver_repository import SqlAlchemyWebserverRepository
from healthmon.adapters.sqlalchemy.worker_repository import SqlAlchemyWorkerRepository
from healthmon.application.errors import StorageUnavailable
from healthmon.application.ports import UnitOfWork

logger = logging.getLogger(__name__)


class SqlAlchemyUnitOfWork(UnitOfWork):
    """A transaction on a database: repositories share its session; only commit() keeps changes.

    One instance may be entered again after its block ends (each block gets a new session), but
    never from two threads at once.
    """

    webservers: SqlAlchemyWebserverRepository
    probe_results: SqlAlchemyProbeResultRepository
    workers: SqlAlchemyWorkerRepository
    events: SqlAlchemyEventRepository
    channels: SqlAlchemyChannelRepository
    deliveries: SqlAlchemyDeliveryRepository
    rollups: SqlAlchemyRollupRepository

    def __init__(
        self, session_factory: sessionmaker[Session], on_answer: Callable[[], None] | None = None
    ) -> None:
        self._session_factory = session_factory
        # Called after every block the database answered (whatever the block's outcome).
        self._on_answer = on_answer
        bind = session_factory.kw.get("bind")
        if bind is None:
            raise TypeError(
                "the session factory must be bound to an engine (create_session_factory does that)"
            )
        # Chosen here, once, rather than asked of the session in every repository method.
        self._statements = statements_for(bind.dialect)
        self._session: Session | None = None

    def __enter__(self) -> Self:
        if self._session is not None:
            raise RuntimeError("this unit of work is already in a `with` block")
        session = self._session_factory()
        self._session = session
        statements = self._statements
        self.webservers = SqlAlchemyWebserverRepository(session, statements.webservers)
        self.probe_results = SqlAlchemyProbeResultRepository(
            session, statements.probe_results, self.webservers.holds_locks
        )
        self.workers = SqlAlchemyWorkerRepository(session, statements.workers)
        self.events = SqlAlchemyEventRepository(session)
        self.channels = SqlAlchemyChannelRepository(session)
        self.deliveries = SqlAlchemyDeliveryRepository(session)
        self.rollups = SqlAlchemyRollupRepository(session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        session, self._session = self._session, None
        if session is None:  # pragma: no cover - __exit__ without __enter__ is a caller bug
            return
        self.webservers.forget_locks()  # saves still waiting are dropped with the rollback
        try:
            with translated_errors():
                session.rollback()
        except StorageUnavailable:
            if exc is None:
                raise
            # The block already failed, almost surely for the same lost connection; report that.
            logger.debug("rollback after %s failed too", exc_type.__name__ if exc_type else "an error")
            return
        finally:
            session.close()
        if self._on_answer is not None and not isinstance(exc, StorageUnavailable):
            self._on_answer()

    def commit(self) -> None:
        if self._session is None:
            raise RuntimeError("commit() outside the `with` block")
        self.webservers.flush()
        with translated_errors():
            self._session.commit()
        self.webservers.forget_locks()


__all__ = ["SqlAlchemyUnitOfWork"]
