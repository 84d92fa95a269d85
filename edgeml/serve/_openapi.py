"""The OpenAPI document of a server, built from the served model's input schema.

FastAPI writes the paths; the request bodies (which the routes read raw, to validate them
against whichever model is served now) are filled in here from the model's pydantic record.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from edgeml.serve._bodies import ARROW_TYPES, CSV_TYPES
from edgeml.serve._records import FeedbackItem
from edgeml.serve._served import ServedModel

__all__ = ["openapi_document"]

_REF = "#/components/schemas/{model}"


def openapi_document(app: FastAPI, served: ServedModel) -> dict[str, Any]:
    """OpenAPI 3.1 for ``app`` serving ``served``: exact request and response bodies."""
    document = get_openapi(
        title=app.title, version=app.version, routes=app.routes, description=_description(served)
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    record = served.record.model_json_schema(by_alias=True, ref_template=_REF)
    schemas.update(record.pop("$defs", {}))
    schemas["Record"] = record
    feedback = FeedbackItem.model_json_schema(ref_template=_REF)
    schemas["Feedback"] = feedback
    schemas["Error"] = {
        "type": "object",
        "properties": {"error": {"type": "string"}, "detail": {"type": "array"}},
        "required": ["error"],
    }
    paths = document["paths"]
    paths["/predict"]["post"].update(_predict(served))
    paths["/predict/batch"]["post"].update(_batch(served))
    paths["/feedback"]["post"].update(_feedback())
    paths["/admin/reload"]["post"]["security"] = [{"bearer": []}]
    paths["/admin/reload"]["post"]["responses"].update(
        {
            "401": _error("no or wrong token"),
            "403": _error("admin endpoints are off"),
            "409": _error("the bundle cannot serve; the old one stays"),
        }
    )
    document["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    return document


def _predict(served: ServedModel) -> dict[str, Any]:
    ref = {"$ref": "#/components/schemas/Record"}
    one = _output_schema(served)
    many = {"type": "array", "items": ref, "minItems": 1}
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"anyOf": [ref, many]}}},
        },
        "responses": {
            "200": {
                "description": "The prediction, or one per record under `predictions`.",
                "content": {
                    "application/json": {
                        "schema": {
                            "anyOf": [
                                _with_head(one),
                                _with_head(
                                    {
                                        "type": "object",
                                        "properties": {
                                            "predictions": {"type": "array", "items": one}
                                        },
                                    }
                                ),
                            ]
                        }
                    }
                },
            },
            **_client_errors(),
        },
    }


def _batch(served: ServedModel) -> dict[str, Any]:
    record = served.record.model_json_schema(by_alias=True, ref_template=_REF)
    properties = {
        name: {"type": "array", "items": spec, "minItems": 1}
        for name, spec in record["properties"].items()
    }
    columnar = {
        "type": "object",
        "properties": {
            "columns": {
                "type": "object",
                "properties": properties,
                "required": list(properties),
                "additionalProperties": False,
            }
        },
        "required": ["columns"],
        "additionalProperties": False,
    }
    text = {"type": "string", "description": "A header row naming every input column."}
    outputs = {name: {"type": "array"} for name in ["prediction", *served.predictor.columns]}
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": columnar},
                **{kind: {"schema": text} for kind in CSV_TYPES[:1]},
                **{
                    kind: {"schema": {"type": "string", "format": "binary"}}
                    for kind in ARROW_TYPES[:1]
                },
            },
        },
        "responses": {
            "200": {
                "description": "One list per output column, in row order.",
                "content": {
                    "application/json": {
                        "schema": _with_head(
                            {
                                "type": "object",
                                "properties": {"rows": {"type": "integer"}, **outputs},
                            }
                        )
                    }
                },
            },
            **_client_errors(),
            "415": _error("a content type other than JSON, CSV or Arrow IPC"),
        },
    }


def _feedback() -> dict[str, Any]:
    ref = {"$ref": "#/components/schemas/Feedback"}
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"anyOf": [ref, {"type": "array", "items": ref, "minItems": 1}]}
                }
            },
        },
        "responses": {
            "200": {
                "description": "How many rows got their label; ids that are not in the log.",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "updated": {"type": "integer"},
                                "unknown": {"type": "array"},
                            },
                        }
                    }
                },
            },
            **_client_errors(),
            "503": _error("the prediction log is unavailable"),
        },
    }


def _output_schema(served: ServedModel) -> dict[str, Any]:
    properties: dict[str, Any] = {"prediction": {}}
    properties.update({name: {"type": "number"} for name in served.predictor.columns})
    return {"type": "object", "properties": properties, "required": list(properties)}


def _with_head(schema: dict[str, Any]) -> dict[str, Any]:
    head = {"request_id": {"type": "string"}, "model_version": {"type": "string"}}
    return {**schema, "properties": {**head, **schema.get("properties", {})}}


def _client_errors() -> dict[str, Any]:
    return {
        "400": _error("not JSON, or a bad X-Request-ID"),
        "413": _error("body over the size limit"),
        "422": _error("a field missing, extra, of the wrong type, or an unknown category"),
    }


def _error(text: str) -> dict[str, Any]:
    return {
        "description": text,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _description(served: ServedModel) -> str:
    schema = served.schema()
    return (
        f"Predicts `{schema['target']}` ({schema['task']}) with model {served.version} "
        f"on the {served.backend} backend. Missing values are `null`; every input column is "
        "required and no other is accepted."
    )
