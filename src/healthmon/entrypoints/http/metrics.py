"""GET /metrics: the fleet and this process's own metrics for Prometheus, behind the API's keys."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency

from healthmon.adapters.prometheus_page import MetricsPage
from healthmon.entrypoints.http.schemas import problem_responses

TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"


@get(
    "/metrics",
    sync_to_thread=True,
    tags=["metrics"],
    summary="Metrics for Prometheus",
    media_type=TEXT_FORMAT,
    response_description="The Prometheus text format (version 0.0.4); OpenMetrics 1.0 when the Accept "
    "header asks for application/openmetrics-text.",
    responses=problem_responses(400, 401, 500, 503),
)
def metrics(request: Request[Any, Any, Any], metrics_page: NamedDependency[MetricsPage]) -> Response[bytes]:
    """Every webserver's health, last probe and TLS expiry, and the fleet's counts, as the database held
    them at most 15 s ago; where this process runs the worker, its own metrics too. A read-only key
    suffices."""
    body, content_type = metrics_page.render(request.headers.get("accept"))
    return Response(body, media_type=content_type)
