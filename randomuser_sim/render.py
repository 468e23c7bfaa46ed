"""Turns generated users into a response body in the requested format (section 4)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import orjson

from randomuser_sim.textformats import to_csv, to_xml, to_yaml

if TYPE_CHECKING:
    from randomuser_sim.generator import User
    from randomuser_sim.params import ApiParams

JSON_TYPE: Final = "application/json; charset=utf-8"
_TYPES: Final = {
    "json": (JSON_TYPE, "json"),
    "pretty": (JSON_TYPE, "json"),
    "csv": ("text/csv; charset=utf-8", "csv"),
    "yaml": ("text/x-yaml; charset=utf-8", "yaml"),
    "xml": ("text/xml; charset=utf-8", "xml"),
}


@dataclass(frozen=True, slots=True)
class Rendered:
    """A response body with its content type and download file extension."""

    body: bytes
    content_type: str
    extension: str


def info_block(params: ApiParams, version: str, results: int) -> dict[str, Any]:
    """The `info` object, keys in production's order."""
    return {
        "seed": params.seed,
        "results": results,
        "page": params.page,
        "version": version,
    }


def render(params: ApiParams, users: list[User], info: dict[str, Any]) -> Rendered:
    """The body production sends for these users (`info` dropped with `noinfo`)."""
    if params.extension and users:
        return _json(params, {"results": [_extension_user(users[0])]})
    document: dict[str, Any] = {"results": users}
    if not params.noinfo:
        document["info"] = info
    content_type, extension = _TYPES[params.format]
    match params.format:
        case "json" | "pretty":
            return _json(params, document)
        case "csv":
            text = to_csv(users)
        case "yaml":
            text = to_yaml(document)
        case "xml":
            text = to_xml(users, document.get("info"))
    return Rendered(text.encode(), content_type, extension)


def _json(params: ApiParams, document: dict[str, Any]) -> Rendered:
    option = orjson.OPT_INDENT_2 if params.format == "pretty" else 0
    body = orjson.dumps(document, option=option)
    if params.callback is not None:
        # JSONP: the callback is inserted verbatim, as production does.
        body = b"%s(%s);" % (params.callback.encode(), body)
    return Rendered(body, JSON_TYPE, "json")


def _extension_user(user: User) -> dict[str, Any]:
    # The undocumented `extension=true` shape (2.4).
    large: str = user["picture"]["large"]
    picture = large.replace("/api", "", 1).replace("https:", "http:", 1)
    name = {"first": user["name"]["first"], "last": user["name"]["last"]}
    return {"user": {"picture": picture, "name": name}}
