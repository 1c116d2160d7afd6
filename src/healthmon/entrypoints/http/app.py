"""The Litestar application: routes, dependencies from the container, problem details, access rules, docs.

Use cases reach handlers as app-level Litestar dependencies, one per name in HTTP_USE_CASES, each
calling its container provider (STYLE items 15-18): no @inject and no wiring. Overriding a provider
on the container (as the tests do with `uow` and `clock`) therefore changes what handlers get.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Final

from dependency_injector import providers
from dependency_injector.ext.starlette import Lifespan
from litestar import Litestar, Request, Response, Router
from litestar.datastructures import MutableScopeHeaders
from litestar.di import Provide
from litestar.enums import MediaType
from litestar.exceptions import MethodNotAllowedException, NotFoundException
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, SecurityRequirement, SecurityScheme
from litestar.plugins.problem_details import ProblemDetailsPlugin
from litestar.types import ExceptionHandler, Guard, Message, Scope

from healthmon.adapters.prometheus_page import MetricsPage
from healthmon.container import Container
from healthmon.entrypoints.http.access import PUBLIC, ApiKeys
from healthmon.entrypoints.http.badges import health_badge, uptime_badge
from healthmon.entrypoints.http.channels import ChannelController
from healthmon.entrypoints.http.cross_site import HostRule, json_writes_only
from healthmon.entrypoints.http.dashboard import dashboard_pages, overview_data
from healthmon.entrypoints.http.docs import OfflineDocsRenderPlugin
from healthmon.entrypoints.http.events import list_events
from healthmon.entrypoints.http.head import HeadAnsweringLitestar, allow_header
from healthmon.entrypoints.http.health_checks import WorkerStatus, healthz, readyz
from healthmon.entrypoints.http.metrics import metrics
from healthmon.entrypoints.http.problems import http_exception_to_problem, problem_details
from healthmon.entrypoints.http.schemas import MAX_BODY_BYTES
from healthmon.entrypoints.http.sign_in import sign_in, sign_in_form, sign_out
from healthmon.entrypoints.http.statistics import all_stats, webserver_stats
from healthmon.entrypoints.http.storage import get_storage
from healthmon.entrypoints.http.sync import export_webservers, sync_webservers
from healthmon.entrypoints.http.templating import static_files_router, template_config
from healthmon.entrypoints.http.webservers import WebserverController
from healthmon.entrypoints.http.workers import list_workers

logger = logging.getLogger(__name__)

HTTP_USE_CASES: Final = (
    "register_webserver",
    "update_webserver",
    "remove_webserver",
    "get_webserver",
    "list_webservers",
    "sync_webservers",
    "export_webservers",
    "list_probe_history",
    "list_workers",
    "get_storage_usage",
    "list_events",
    "register_channel",
    "list_channels",
    "get_channel",
    "update_channel",
    "remove_channel",
    "send_test_event",
    "list_deliveries",
    "retry_delivery",
    "get_webserver_stats",
    "list_webserver_stats",
    "get_overview",
    "get_server_page",
    "get_public_webserver",
    "get_public_uptime",
)
BEARER: Final = "api_key"
DESCRIPTION: Final = """Watches the health of web servers.

Errors are RFC 9457 problems (application/problem+json) with `type`, `title`, `status` and `detail`.
400 means the request could not be read as the declared types; 422 means a value breaks a rule, and
`errors` lists every such field. 503 (with Retry-After) means the database is unreachable: nothing
was changed, retry later. Times are ISO 8601 in UTC. When API keys are configured, every endpoint
but /healthz, /readyz, this schema and the badges of public webservers needs `Authorization: Bearer
<key>` (401 comes before 405); for a GET, the dashboard's sign-in cookie will do; read-only keys
may only GET. Bodies of POST, PUT and PATCH must be sent as `application/json`
(415 otherwise). Without API keys, only requests whose Host is a loopback name or address, or one of
HEALTHMON_ALLOWED_HOSTS, are answered (400 `host-not-allowed` otherwise). Every GET also answers
HEAD: the same status and headers, no body."""


def bridge(provider: providers.Provider[Any]) -> Provide:
    """Expose one container provider as a Litestar dependency (construction only, no I/O)."""
    # The lambda matters: Litestar reads a dependency's signature, and a provider's (*args, **kwargs)
    # would read as two more dependencies to resolve.
    return Provide(lambda: provider(), sync_to_thread=False)  # noqa: PLW0108


def _version() -> str:
    try:
        return version("healthmon")
    except PackageNotFoundError:  # pragma: no cover - only when run from an uninstalled tree
        return "0"


async def _schema_page_not_found(response: Response[Any]) -> Response[Any]:
    # Litestar answers unknown paths under /schema with an HTML page; keep every 404 a problem.
    if response.status_code == 404 and response.media_type == MediaType.HTML:
        problem = http_exception_to_problem(NotFoundException())
        return Response(
            {"type": problem.type_, "title": problem.title, "status": 404, "detail": problem.detail},
            status_code=404,
            media_type="application/problem+json",
        )
    return response


def _openapi_config(*, keys_required: bool) -> OpenAPIConfig:
    return OpenAPIConfig(
        title="healthmon",
        version=_version(),
        description=DESCRIPTION,
        use_handler_docstrings=True,
        components=Components(
            security_schemes={BEARER: SecurityScheme(type="http", scheme="bearer")} if keys_required else None
        ),
        # The docs page at /schema renders the schema on the server: it needs no CDN.
        render_plugins=[OfflineDocsRenderPlugin(path="/"), JsonRenderPlugin()],
        openapi_router=Router(
            "/schema",
            route_handlers=[],
            include_in_schema=False,
            opt={PUBLIC: True},
            after_request=_schema_page_not_found,
        ),
    )


async def _complete_allow_header(message: Message, scope: Scope) -> None:
    # Litestar 2's automatic OPTIONS answer lists only the methods of the first handler registered on a
    # path (litestar-org/litestar#4169, fixed in 3.0); answer with every method the path takes.
    if message["type"] != "http.response.start" or scope.get("method") != "OPTIONS":
        return
    template = scope.get("path_template")
    routes = scope["litestar_app"].routes
    methods = next((route.methods for route in routes if route.path_format == template), None)
    headers = MutableScopeHeaders.from_message(message)
    if methods and "allow" in headers:
        headers["allow"] = allow_header(methods)


def _method_not_allowed(keys: ApiKeys) -> ExceptionHandler[MethodNotAllowedException]:
    def handle(request: Request[Any, Any, Any], exc: MethodNotAllowedException) -> Response[Any]:
        allowed = (exc.headers or {}).get("allow", "").split(",")
        refusal = keys.refusal_before_405(request, [method.strip() for method in allowed])
        if refusal is None:
            refusal = MethodNotAllowedException(headers={"allow": allow_header(allowed)})
        return http_exception_to_problem(refusal).to_response(request)

    return handle


async def _use_http_threads(threads: int) -> None:
    # Litestar runs sync handlers on the loop's default executor; size it as the container sized the
    # connection pool (http_threads + 2), instead of asyncio's default of min(32, CPUs + 4).
    executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="healthmon-http")
    asyncio.get_running_loop().set_default_executor(executor)


def create_app(
    container: Container,
    *,
    worker_alive: Callable[[], bool] | None = None,
    manage_resources: bool = True,
) -> Litestar:
    """The HTTP API on this container.

    - worker_alive: how /readyz learns whether this process's worker runs (None: no worker here).
    - manage_resources: start and stop the container's resources with the app; pass False when the
      caller already runs them (for example a process that also runs the worker).
    """
    settings = container.settings()
    keys = ApiKeys(settings.api_keys, settings.readonly_api_keys)
    # Order matters: who may call comes before what the call looks like.
    guards: list[Guard] = [keys.guard] if keys.enabled else [HostRule(settings.allowed_hosts).guard]
    guards.append(json_writes_only)
    worker = WorkerStatus(worker_alive)
    dependencies = {name: bridge(getattr(container, name)) for name in HTTP_USE_CASES}
    dependencies["worker"] = Provide(lambda: worker, sync_to_thread=False)
    # The worker's own metrics are on the page only where the worker runs, in this process; built
    # here, so the declared ones show (at zero) even before the worker first counts.
    own = None
    if worker_alive is not None:
        container.metrics()
        own = container.metrics_registry()
    page = MetricsPage(container.read_fleet, container.clock(), own=own)
    dependencies["metrics_page"] = Provide(lambda: page, sync_to_thread=False)
    dependencies["dashboard_keys"] = Provide(lambda: keys, sync_to_thread=False)
    security: list[SecurityRequirement] | None = [{BEARER: []}] if keys.enabled else None
    api = Router(
        "/",
        route_handlers=[
            WebserverController,
            sync_webservers,
            export_webservers,
            list_workers,
            get_storage,
            list_events,
            ChannelController,
            metrics,
            webserver_stats,
            all_stats,
            overview_data,
        ],
        security=security,
    )
    if keys.enabled:
        logger.info(
            "API keys required: %d full, %d read-only",
            len(settings.api_keys),
            len(settings.readonly_api_keys),
        )
    else:
        logger.info(
            "no API keys: answering requests for loopback names%s only",
            "".join(f", {host}" for host in settings.allowed_hosts),
        )
    return HeadAnsweringLitestar(
        route_handlers=[
            api,
            healthz,
            readyz,
            health_badge,
            uptime_badge,
            dashboard_pages(),
            sign_in_form,
            sign_in,
            sign_out,
            static_files_router(),
        ],
        template_config=template_config(_version()),
        dependencies=dependencies,
        guards=guards,
        exception_handlers={MethodNotAllowedException: _method_not_allowed(keys)},
        lifespan=[Lifespan(container)] if manage_resources else None,
        on_startup=[partial(_use_http_threads, settings.http_threads)],
        before_send=[_complete_allow_header],
        plugins=[ProblemDetailsPlugin(problem_details(container.storage_outages()))],
        openapi_config=_openapi_config(keys_required=keys.enabled),
        request_max_body_size=MAX_BODY_BYTES,
        # Logging belongs to the process (the CLI configures it); the app must not reconfigure it.
        logging_config=None,
    )
