"""`/api`: the JSON API's reference as a page, rendered by the server from the OpenAPI document
(`api.openapi.document`), so it is always the API this server serves. No script, no CDN."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from gitserver.web.api.openapi import document
from gitserver.web.templating import render
from gitserver.web.webforms import PageRoute

METHODS = ("get", "post", "put", "patch", "delete")
REF_PREFIX = "#/components/schemas/"


def type_label(schema: dict[str, Any]) -> str:
    """A schema in a few words: "string (date-time)", "list of Status", "integer or null"."""
    if "$ref" in schema:
        return schema["$ref"].removeprefix(REF_PREFIX)
    if "oneOf" in schema:
        return " or ".join(type_label(s) for s in schema["oneOf"])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list of {type_label(schema.get('items', {}))}"
    words = " or ".join(kind) if isinstance(kind, list) else str(kind)
    if "enum" in schema:
        words += ": " + ", ".join(str(v) for v in schema["enum"])
    if "format" in schema:
        words += f" ({schema['format']})"
    return words


def operations(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Every operation of the document, path by path, in a shape a template lists."""
    found = []
    for path, item in doc["paths"].items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            found.append({
                "method": method.upper(), "path": path, "summary": operation["summary"],
                "anchor": f"{method}-{path}".replace("/", "-").replace("{", "").replace("}", ""),
                "params": [{"name": p["name"], "in": p["in"], "required": p.get("required", False),
                            "description": p.get("description", ""),
                            "type": type_label(p.get("schema", {}))}
                           for p in operation.get("parameters", [])],
                "body": _fields(body["schema"]) if body else [],
                "responses": [{"code": code, "description": r.get("description", ""),
                               "type": type_label(r.get("content", {}).get(
                                   "application/json", {}).get("schema", {}))
                               if r.get("content") else ""}
                              for code, r in operation["responses"].items()]})
    return found


def _fields(schema: dict[str, Any]) -> list[dict[str, Any]]:
    required = set(schema.get("required", []))
    return [{"name": name, "type": type_label(value), "required": name in required,
             "description": value.get("description", "")}
            for name, value in schema.get("properties", {}).items()]


def api_page(request: Request) -> Response:
    """/api: the API reference."""
    doc = document(request.app.state.settings.server.base_url)
    return render(request, "api.html", {
        "doc": doc, "operations": operations(doc),
        "schemas": [{"name": name, "fields": _fields(schema), "type": type_label(schema)}
                    for name, schema in doc["components"]["schemas"].items()]})


routes: list[BaseRoute] = [PageRoute("/api", api_page)]
