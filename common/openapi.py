"""Pieces shared by the OpenAPI 3.1 documents of the command and query APIs.

The documents are plain dictionaries built by `command_service.openapi` and
`query_service.openapi`, serialised once when an app is built and served as
bytes. Their schemas are JSON Schema 2020-12, which OpenAPI 3.1 uses as is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import orjson
from aiohttp import web

from common.http import VALID_ID

if TYPE_CHECKING:
    from aiohttp.typedefs import Handler

OPENAPI_VERSION: Final = "3.1.0"
API_VERSION: Final = "1.0.0"

Document = dict[str, Any]

PROBLEM_SCHEMA: Final[Document] = {
    "type": "object",
    "description": "An RFC 9457 problem: every error response of the API.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "Always `about:blank`."},
        "title": {"type": "string", "description": "Short summary of the status."},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string", "description": "What exactly was wrong."},
    },
}

CORRELATION_PARAMETER: Final[Document] = {
    "name": "X-Correlation-ID",
    "in": "header",
    "required": False,
    "description": (
        "Follows this request through every message and log line. Used when it "
        "is 1-128 characters of `A-Z a-z 0-9 _ . : -`; otherwise a new one is made."
    ),
    "schema": {"type": "string"},
}

TRACING_HEADERS: Final[Document] = {
    "X-Correlation-ID": {
        "description": "The request's correlation id (the caller's, or a new one).",
        "schema": {"type": "string", "pattern": VALID_ID.pattern},
    },
    "X-Request-ID": {
        "description": "Unique id of this request (behind nginx, nginx's own), "
        "also in the service's and nginx's log lines.",
        "schema": {"type": "string", "minLength": 1},
    },
}

RETRY_AFTER: Final[Document] = {
    "description": "Seconds to wait before retrying.",
    "schema": {"type": "string", "pattern": "^[0-9]+$"},
}


def api_document(
    *,
    title: str,
    description: str,
    tag: str,
    tag_description: str,
    paths: Document,
    components: Document,
) -> Document:
    """An OpenAPI 3.1 document of one of the connector's APIs: one tag, served
    from the origin that serves the document."""
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": API_VERSION, "description": description},
        "servers": [{"url": "/"}],
        "tags": [{"name": tag, "description": tag_description}],
        "paths": paths,
        "components": components,
    }


def problem(description: str, **headers: Document) -> Document:
    """A response documented as application/problem+json."""
    return {
        "description": description,
        "headers": {**TRACING_HEADERS, **headers},
        "content": {
            "application/problem+json": {
                "schema": {"$ref": "#/components/schemas/Problem"}
            }
        },
    }


def json_response(description: str, schema: Document, **headers: Document) -> Document:
    """A response documented as application/json with `schema`."""
    return {
        "description": description,
        "headers": {**TRACING_HEADERS, **headers},
        "content": {"application/json": {"schema": schema}},
    }


def nullable(schema: Document) -> Document:
    """`schema`, or null."""
    return {"anyOf": [schema, {"type": "null"}]}


def obj(properties: dict[str, Document], **extra: Any) -> Document:
    """An object schema requiring every listed property (more may be added later)."""
    return {
        "type": "object",
        "required": list(properties),
        "properties": properties,
        **extra,
    }


def ref(name: str) -> Document:
    """A reference to `#/components/schemas/<name>`."""
    return {"$ref": f"#/components/schemas/{name}"}


def openapi_operation(operation_id: str, tag: str) -> Document:
    """GET <prefix>/openapi.json: the document itself."""
    return {
        "get": {
            "operationId": operation_id,
            "summary": "This OpenAPI 3.1 document",
            "tags": [tag],
            "responses": {
                "200": json_response(
                    "The document.",
                    {"type": "object", "required": ["openapi", "info", "paths"]},
                )
            },
        }
    }


def openapi_handler(document: Document) -> Handler:
    """A handler serving `document` as JSON, serialised once."""
    body = orjson.dumps(document)

    async def openapi(_: web.Request) -> web.StreamResponse:
        return web.Response(
            body=body,
            content_type="application/json",
            headers={"Cache-Control": "no-cache"},
        )

    return openapi
