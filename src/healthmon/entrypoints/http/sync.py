"""Config as code over HTTP: POST /webservers/sync (plan; apply all or nothing), GET /webservers/export.

Handlers translate between HTTP and the use cases and hold no rules of their own (see webservers.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Final, cast

import yaml
from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, Operation
from litestar.params import BodyKwarg, QueryParameter

from healthmon.application.use_cases.sync import ExportWebservers, SyncWebservers
from healthmon.entrypoints.http.schemas import problem_responses
from healthmon.entrypoints.http.sync_schemas import (
    SYNC_MAX_BODY_BYTES,
    ExportOut,
    SyncBody,
    SyncIn,
    SyncOut,
    SyncRequest,
    entry_values,
)

_READ: Final = (400, 401, 500, 503)
_WRITE: Final = (*_READ, 403)
_DESCRIBED: Final = {
    409: "An entry's URL is watched by a server the file does not list and the sync keeps, or another "
    "change to the same servers (a second sync) came first; nothing was changed.",
    413: f"The body is larger than {SYNC_MAX_BODY_BYTES} bytes.",
    422: "Entries break rules, or two entries share a key or a URL; `errors` lists every one, each with "
    "the entry's `index` and `key`, and nothing was changed.",
}

SyncBodyParameter = Annotated[
    SyncIn,
    BodyKwarg(media_type=RequestEncodingType.JSON, schema_extra={"additionalProperties": False}),
]


class ExportFormat(StrEnum):
    """How an export is written."""

    YAML = "yaml"
    JSON = "json"


_MEDIA_TYPES: Final = {ExportFormat.YAML: "application/yaml", ExportFormat.JSON: "application/json"}


@dataclass
class _ExportOperation(Operation):
    # Litestar documents one media type per response; the export has one per format.
    def __post_init__(self) -> None:
        ok = self.responses["200"] if self.responses else None
        if isinstance(ok, OpenAPIResponse) and ok.content:
            document = ok.content[_MEDIA_TYPES[ExportFormat.YAML]]
            ok.content[_MEDIA_TYPES[ExportFormat.JSON]] = OpenAPIMediaType(schema=document.schema)


FormatParameter = Annotated[
    ExportFormat, QueryParameter(description="`yaml` (the default) or `json`; the same document either way.")
]


@post(
    "/webservers/sync",
    sync_to_thread=True,
    tags=["webservers"],
    summary="Sync the webservers with a file's entries: see the plan, or apply it",
    dto=SyncBody,
    return_dto=None,
    status_code=200,
    request_max_body_size=SYNC_MAX_BODY_BYTES,
    responses=problem_responses(409, 413, 415, 422, *_WRITE, described=_DESCRIBED),
)
def sync_webservers(data: SyncBodyParameter, sync_webservers: NamedDependency[SyncWebservers]) -> SyncOut:
    """Match each entry to a server by key (or URL) and plan creates, updates and deletes.

    With `dry_run` (the default) nothing changes; otherwise the whole plan is applied in one
    transaction, all or nothing. `prune` deletes managed servers (made or last changed by a sync)
    that the file no longer lists; servers made by hand are never deleted and are listed under
    `unmanaged`. A field an entry leaves out takes its default.
    """
    # SyncBody has read the body as a SyncRequest; the annotation is what the schema documents.
    request = cast(SyncRequest, data)
    result = sync_webservers.execute(request.entries, prune=request.prune, dry_run=request.dry_run)
    return SyncOut.from_domain(result)


@get(
    "/webservers/export",
    sync_to_thread=True,
    tags=["webservers"],
    summary="Every webserver as the entries of a file",
    responses={
        200: ResponseSpec(
            data_container=ExportOut,
            generate_examples=False,
            description="The file: YAML or JSON, as `format` asks.",
            media_type=_MEDIA_TYPES[ExportFormat.YAML],
        ),
        **problem_responses(*_READ),
    },
    operation_class=_ExportOperation,
)
def export_webservers(
    export_webservers: NamedDependency[ExportWebservers], format: FormatParameter = ExportFormat.YAML
) -> Response[bytes]:
    """`{"webservers": [entries]}` in id order, fields at their default left out (synced back: no change).

    Passwords in URLs are masked; an entry that gives its URL masked keeps the stored password.
    """
    document = {
        "webservers": [entry_values(settings, omit_defaults=True) for settings in export_webservers.execute()]
    }
    if format is ExportFormat.JSON:
        body = json.dumps(document, indent=2, ensure_ascii=False).encode() + b"\n"
    else:
        body = yaml.safe_dump(document, sort_keys=False, allow_unicode=True).encode()
    return Response(body, media_type=_MEDIA_TYPES[format])
