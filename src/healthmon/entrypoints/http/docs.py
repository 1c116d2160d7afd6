"""An API reference page rendered on the server from the OpenAPI schema: no JavaScript, nothing from a CDN.

Litestar's Swagger, ReDoc and Scalar pages load their code from the internet, which a monitor on a
private network often cannot reach. This page is plain HTML with inline CSS, so it works anywhere.
"""

from __future__ import annotations

from html import escape
from typing import Any, Final

from litestar import Request
from litestar.openapi.plugins import OpenAPIRenderPlugin

_METHODS: Final = ("get", "post", "put", "patch", "delete", "head", "options")
_STYLE: Final = """<style>
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: .2rem; margin-top: 2rem; }
.method { display: inline-block; min-width: 4.5rem; font-weight: bold; font-family: monospace; }
code, .path { font-family: monospace; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
td, th { border: 1px solid #ddd; padding: .2rem .5rem; text-align: left; vertical-align: top; }
section { margin-bottom: 1.5rem; }
</style>"""


def _text(value: object) -> str:
    return escape(str(value)) if value is not None else ""


def _schema_name(schema: dict[str, Any]) -> str:
    if ref := schema.get("$ref"):
        return str(ref).rsplit("/", 1)[-1]
    if "oneOf" in schema or "anyOf" in schema:
        return " | ".join(_schema_name(option) for option in schema.get("oneOf", schema.get("anyOf", [])))
    if schema.get("type") == "array":
        return f"list of {_schema_name(schema.get('items', {}))}"
    if "enum" in schema:
        return " | ".join(str(value) for value in schema["enum"])
    return str(schema.get("type", "any"))


def _parameters(operation: dict[str, Any]) -> str:
    rows = [
        f"<tr><td><code>{_text(parameter['name'])}</code></td><td>{_text(parameter.get('in'))}</td>"
        f"<td>{_text(_schema_name(parameter.get('schema', {})))}</td>"
        f"<td>{'yes' if parameter.get('required') else 'no'}</td>"
        f"<td>{_text(parameter.get('description'))}</td></tr>"
        for parameter in operation.get("parameters", [])
    ]
    if not rows:
        return ""
    head = "<tr><th>parameter</th><th>in</th><th>type</th><th>required</th><th>description</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _request_body(operation: dict[str, Any]) -> str:
    content = operation.get("requestBody", {}).get("content", {})
    return "".join(
        f"<p>Body ({_text(media_type)}): <code>{_text(_schema_name(body.get('schema', {})))}</code></p>"
        for media_type, body in content.items()
    )


def _responses(operation: dict[str, Any]) -> str:
    rows = []
    for status, response in sorted(operation.get("responses", {}).items()):
        bodies = ", ".join(
            f"{_text(media_type)} <code>{_text(_schema_name(body.get('schema', {})))}</code>"
            for media_type, body in response.get("content", {}).items()
        )
        rows.append(
            f"<tr><td>{_text(status)}</td><td>{_text(response.get('description'))}</td><td>{bodies}</td></tr>"
        )
    return f"<table><tr><th>status</th><th>meaning</th><th>body</th></tr>{''.join(rows)}</table>"


def _schemas(openapi: dict[str, Any]) -> str:
    parts = []
    for name, schema in sorted(openapi.get("components", {}).get("schemas", {}).items()):
        required = set(schema.get("required", []))
        rows = "".join(
            f"<tr><td><code>{_text(field)}</code></td><td>{_text(_schema_name(spec))}</td>"
            f"<td>{'yes' if field in required else 'no'}</td><td>{_text(spec.get('description'))}</td></tr>"
            for field, spec in schema.get("properties", {}).items()
        )
        description = f"<p>{_text(schema.get('description'))}</p>" if schema.get("description") else ""
        table = (
            f"<table><tr><th>field</th><th>type</th><th>required</th><th>description</th></tr>{rows}</table>"
            if rows
            else ""
        )
        parts.append(
            f'<section id="schema-{_text(name)}"><h3>{_text(name)}</h3>{description}{table}</section>'
        )
    return "".join(parts)


def render_reference(openapi: dict[str, Any], schema_url: str) -> str:
    """The whole reference page for an OpenAPI document, every value HTML-escaped."""
    info = openapi.get("info", {})
    operations = []
    for path, item in openapi.get("paths", {}).items():
        for method in _METHODS:
            if (operation := item.get(method)) is None:
                continue
            operations.append(
                f'<section><h3><span class="method">{method.upper()}</span> '
                f'<span class="path">{_text(path)}</span></h3>'
                f"<p><strong>{_text(operation.get('summary'))}</strong></p>"
                f"<p>{_text(operation.get('description'))}</p>"
                f"{_parameters(operation)}{_request_body(operation)}{_responses(operation)}</section>"
            )
    title = _text(info.get("title", "API"))
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title} API reference</title>'
        f"{_STYLE}</head><body><h1>{title} {_text(info.get('version'))}</h1>"
        f"<p>{_text(info.get('description'))}</p>"
        f'<p>Machine-readable: <a href="{_text(schema_url)}">{_text(schema_url)}</a> (OpenAPI 3.1).</p>'
        f"<h2>Endpoints</h2>{''.join(operations)}<h2>Schemas</h2>{_schemas(openapi)}</body></html>"
    )


class OfflineDocsRenderPlugin(OpenAPIRenderPlugin):
    """Serves render_reference() for the app's schema; every asset is inline."""

    def __init__(self, *, path: str = "/") -> None:
        super().__init__(path=path, favicon="", style="")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        """The reference page for the app's OpenAPI schema."""
        return render_reference(openapi_schema, self.get_openapi_json_route(request)).encode("utf-8")
