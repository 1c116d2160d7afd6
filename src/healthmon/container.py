"""The composition root: the one place that builds adapters and hands them to the use cases."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta

from aiohttp.abc import AbstractResolver
from dependency_injector import containers, providers
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from healthmon.adapters.aiohttp_prober import AiohttpProber, open_client_session
from healthmon.adapters.apprise_notifier import AppriseNotifier
from healthmon.adapters.notifiers import NotifierByKind
from healthmon.adapters.prometheus_metrics import PrometheusMetrics
from healthmon.adapters.sqlalchemy.engine import create_database_engine, create_session_factory
from healthmon.adapters.sqlalchemy.history_storage import history_storage_for
from healthmon.adapters.sqlalchemy.job_leases import SqlAlchemyJobLeases
from healthmon.adapters.sqlalchemy.migrations import prepare_database, upgrade_database
from healthmon.adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from healthmon.adapters.sqlalchemy.worker_lock import allows_one_worker, sqlite_worker_lock
from healthmon.adapters.system_clock import SystemClock
from healthmon.adapters.webhook_notifier import WebhookNotifier, open_delivery_session
from healthmon.application.delivery_loop import DeliverDueEvents, DeliverySettings
from healthmon.application.jobs.rollup_jobs import RollUpSettled, StoredRollups
from healthmon.application.jobs.runner import PeriodicJob, RunPeriodicJobs
from healthmon.application.monitoring.membership import this_worker
from healthmon.application.monitoring.metrics import MONITOR_METRICS
from healthmon.application.monitoring.monitor import MonitorWebservers
from healthmon.application.monitoring.settings import MonitorSettings
from healthmon.application.storage_outages import OutageLog
from healthmon.application.use_cases.channels import (
    GetChannel,
    ListChannels,
    ListDeliveries,
    RegisterChannel,
    RemoveChannel,
    RetryDelivery,
    SendTestEvent,
    UpdateChannel,
)
from healthmon.application.use_cases.dashboard import (
    GetOverview,
    GetPublicUptime,
    GetPublicWebserver,
    GetServerPage,
)
from healthmon.application.use_cases.deliveries import ClaimDueDeliveries, RecordDeliveryAttempt
from healthmon.application.use_cases.events import ListEvents
from healthmon.application.use_cases.fleet import ReadFleet
from healthmon.application.use_cases.history import ListProbeHistory
from healthmon.application.use_cases.recording import RecordProbeResults
from healthmon.application.use_cases.retention import (
    GetStorageUsage,
    PrepareHistoryPartitions,
    PruneHistory,
    RetentionSettings,
)
from healthmon.application.use_cases.rollups import RollUpHistory
from healthmon.application.use_cases.statistics import GetWebserverStats, ListWebserverStats
from healthmon.application.use_cases.sync import ExportWebservers, SyncWebservers
from healthmon.application.use_cases.webservers import (
    GetWebserver,
    ListWebservers,
    RegisterWebserver,
    RemoveWebserver,
    UpdateWebserver,
)
from healthmon.application.use_cases.workers import ListWorkers
from healthmon.domain.certificates import ExpiryWarnings
from healthmon.domain.channels import ChannelKind
from healthmon.domain.deliveries import RetrySchedule
from healthmon.domain.outbound import OutboundPolicy
from healthmon.settings import Settings


def database_engine(url: str, pool_size: int) -> Iterator[Engine]:
    """The process's engine, disposed of (every pooled connection closed) at shutdown."""
    engine = create_database_engine(url, pool_size=pool_size)
    try:
        yield engine
    finally:
        engine.dispose()


# The monitor settings an operator sets: every MonitorSettings field that Settings also has, by name.
MONITOR_SETTINGS = tuple(
    field.name
    for field in dataclasses.fields(MonitorSettings)
    if field.name in {service_field.name for service_field in dataclasses.fields(Settings)}
)


def monitor_settings_from(settings: Settings, *, exclusive: bool) -> MonitorSettings:
    """The monitor's pace as the operator set it; the rest are MonitorSettings' own defaults."""
    return MonitorSettings(
        **{name: getattr(settings, name) for name in MONITOR_SETTINGS}, exclusive=exclusive
    )


class Container(containers.DeclarativeContainer):
    """Builds everything from one Settings value; only the entry points create a Container."""

    settings = providers.Dependency(instance_of=Settings)

    engine = providers.Resource(
        database_engine,
        url=settings.provided.database_url,
        # Every HTTP worker thread may hold a connection, and the worker needs one to read and one to write.
        pool_size=providers.Callable(lambda threads: threads + 2, settings.provided.http_threads),
    )
    # Run once at start: SQLite migrates itself; PostgreSQL must be reachable and current.
    prepare_database = providers.Callable(prepare_database, settings.provided.database_url)
    upgrade_database = providers.Callable(upgrade_database, settings.provided.database_url)
    session_factory = providers.Singleton(create_session_factory, engine)
    # Outages as the API meets them: logged once when one starts and once when it ends.
    storage_outages = providers.Singleton(OutageLog)
    uow = providers.Factory(
        SqlAlchemyUnitOfWork, session_factory=session_factory, on_answer=storage_outages.provided.answered
    )
    clock = providers.Singleton(SystemClock)
    # Where probes and deliveries may connect; the API also refuses URLs whose literal address it denies.
    outbound_policy = providers.Singleton(
        OutboundPolicy, deny=settings.provided.outbound_deny, allow=settings.provided.outbound_allow
    )
    certificate_warnings = providers.Singleton(ExpiryWarnings, days=settings.provided.cert_warn_days)

    register_webserver = providers.Factory(RegisterWebserver, uow=uow, clock=clock, policy=outbound_policy)
    update_webserver = providers.Factory(UpdateWebserver, uow=uow, clock=clock, policy=outbound_policy)
    remove_webserver = providers.Factory(RemoveWebserver, uow=uow)
    get_webserver = providers.Factory(GetWebserver, uow=uow, clock=clock)
    list_webservers = providers.Factory(ListWebservers, uow=uow, clock=clock)
    sync_webservers = providers.Factory(SyncWebservers, uow=uow, clock=clock)
    export_webservers = providers.Factory(ExportWebservers, uow=uow)
    get_webserver_stats = providers.Factory(GetWebserverStats, uow=uow, clock=clock)
    list_webserver_stats = providers.Factory(ListWebserverStats, uow=uow, clock=clock)
    # The periodic rollup job, for the job runner: roll_up_history().run(now).
    roll_up_history = providers.Factory(RollUpHistory, uow=uow)
    list_probe_history = providers.Factory(ListProbeHistory, uow=uow)
    record_probe_results = providers.Factory(
        RecordProbeResults, uow=uow, certificate_warnings=certificate_warnings
    )
    list_workers = providers.Factory(ListWorkers, uow=uow, lease_seconds=settings.provided.lease_seconds)
    read_fleet = providers.Factory(
        ReadFleet, uow=uow, clock=clock, lease_seconds=settings.provided.lease_seconds
    )
    get_overview = providers.Factory(GetOverview, uow=uow, clock=clock)
    get_server_page = providers.Factory(GetServerPage, uow=uow)
    get_public_webserver = providers.Factory(GetPublicWebserver, uow=uow)
    get_public_uptime = providers.Factory(GetPublicUptime, uow=uow, clock=clock)

    # None is aiohttp's default, the system's resolver; tests put a fake here so no name leaves the machine.
    resolver: providers.Provider[AbstractResolver | None] = providers.Object(None)
    client_session = providers.Resource(
        open_client_session,
        limit=settings.provided.max_concurrent_probes,
        limit_per_host=settings.provided.max_probes_per_host,
        resolver=resolver,
        policy=outbound_policy,
    )
    prober = providers.Singleton(AiohttpProber, session=client_session)
    monitor_settings = providers.Singleton(
        monitor_settings_from,
        settings,
        exclusive=providers.Callable(allows_one_worker, settings.provided.database_url),
    )
    # Where the worker counts: prometheus-client instruments in a registry of this container's own
    # (never the library's global one), served on /metrics or HEALTHMON_METRICS_PORT.
    metrics_registry = providers.Singleton(CollectorRegistry, auto_describe=True)
    metrics = providers.Singleton(PrometheusMetrics, declared=MONITOR_METRICS, registry=metrics_registry)
    # Entered by whichever process runs the worker, for as long as it runs.
    worker_lock = providers.Factory(sqlite_worker_lock, engine)
    # Who this process is: the monitor's leases and the delivery loop's claims are held under its id.
    worker_info = providers.Singleton(this_worker, started_at=clock.provided.now.call())
    monitor = providers.Singleton(
        MonitorWebservers,
        uow=uow,
        prober=prober,
        record=record_probe_results,
        settings=monitor_settings,
        metrics=metrics,
        worker=worker_info,
        clock=clock,
    )

    # Alert deliveries: a ClientSession of their own (bounded, apart from the prober's, so a slow
    # receiver never delays a probe), a notifier per channel kind, and the loop every worker runs.
    delivery_session = providers.Resource(
        open_delivery_session,
        limit=settings.provided.delivery_concurrency,
        policy=outbound_policy,
    )
    webhook_notifier = providers.Singleton(
        WebhookNotifier, session=delivery_session, timeout_seconds=settings.provided.delivery_timeout_seconds
    )
    # Needs no session: the API's channel use cases check URLs with it (url_problem) without any I/O.
    apprise_notifier = providers.Singleton(
        AppriseNotifier, timeout_seconds=settings.provided.delivery_timeout_seconds, policy=outbound_policy
    )
    notifier = providers.Singleton(
        NotifierByKind,
        notifiers=providers.Dict(
            {ChannelKind.WEBHOOK: webhook_notifier, ChannelKind.APPRISE: apprise_notifier}
        ),
    )
    retry_schedule = providers.Singleton(RetrySchedule, steps=settings.provided.delivery_retry_seconds)

    # The API's alert use cases. They ask the apprise notifier which URLs it can send to: its check
    # opens no session, and webhook URLs are the domain's to check, so an API process never opens
    # the delivery session.
    list_events = providers.Factory(ListEvents, uow=uow)
    register_channel = providers.Factory(
        RegisterChannel, uow=uow, clock=clock, notifier=apprise_notifier, policy=outbound_policy
    )
    list_channels = providers.Factory(ListChannels, uow=uow)
    get_channel = providers.Factory(GetChannel, uow=uow)
    update_channel = providers.Factory(
        UpdateChannel, uow=uow, clock=clock, notifier=apprise_notifier, policy=outbound_policy
    )
    remove_channel = providers.Factory(RemoveChannel, uow=uow)
    send_test_event = providers.Factory(SendTestEvent, uow=uow, clock=clock)
    list_deliveries = providers.Factory(ListDeliveries, uow=uow)
    retry_delivery = providers.Factory(RetryDelivery, uow=uow, clock=clock)
    claim_due_deliveries = providers.Factory(
        ClaimDueDeliveries, uow=uow, claim_seconds=settings.provided.delivery_claim_seconds
    )
    record_delivery_attempt = providers.Factory(RecordDeliveryAttempt, uow=uow, schedule=retry_schedule)
    delivery_settings = providers.Singleton(
        DeliverySettings,
        concurrency=settings.provided.delivery_concurrency,
        claim_seconds=settings.provided.delivery_claim_seconds,
        shutdown_grace_seconds=settings.provided.shutdown_grace_seconds,
    )
    deliver_due_events = providers.Singleton(
        DeliverDueEvents,
        claim=claim_due_deliveries.provider,
        record=record_delivery_attempt.provider,
        notifier=notifier,
        clock=clock,
        settings=delivery_settings,
        worker_id=worker_info.provided.id,
        metrics=metrics,
    )

    # The history as a whole: its size, its partitions, retention (which never removes a probe the
    # rollups do not hold yet).
    history_storage = providers.Singleton(history_storage_for, session_factory)
    rollups = providers.Factory(StoredRollups, uow=uow, clock=clock)
    roll_up_settled = providers.Factory(RollUpSettled, roll_up=roll_up_history, clock=clock)
    retention_settings = providers.Singleton(
        RetentionSettings,
        retention_days=settings.provided.retention_days,
        rollup_retention_days=settings.provided.rollup_retention_days,
    )
    get_storage_usage = providers.Factory(
        GetStorageUsage, storage=history_storage, settings=retention_settings
    )
    prepare_history_partitions = providers.Factory(
        PrepareHistoryPartitions, storage=history_storage, clock=clock
    )
    prune_history = providers.Factory(
        PruneHistory, storage=history_storage, rollups=rollups, clock=clock, settings=retention_settings
    )

    # The periodic jobs, one line each: whichever worker holds a job's lease runs it, once a period.
    periodic_jobs = providers.List(
        providers.Factory(
            PeriodicJob, "history-rollups", timedelta(minutes=1), roll_up_settled.provided.execute
        ),
        providers.Factory(
            PeriodicJob, "history-partitions", timedelta(hours=1), prepare_history_partitions.provided.execute
        ),
        providers.Factory(
            PeriodicJob, "history-retention", timedelta(hours=1), prune_history.provided.execute
        ),
    )
    job_leases = providers.Singleton(SqlAlchemyJobLeases, session_factory)
    run_periodic_jobs = providers.Singleton(
        RunPeriodicJobs, jobs=periodic_jobs, leases=job_leases, worker_id=worker_info.provided.id
    )


def build_container(settings: Settings) -> Container:
    """A container for these settings; nothing connects until a resource is first used."""
    return Container(settings=settings)
