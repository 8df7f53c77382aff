"""OpenAPI post-processing: document the error answers every endpoint can give.

DRF answers 401/403 for missing or insufficient credentials, 404 for an unknown id and
400 for a bad filter or body on every endpoint; drf-spectacular documents only the
success. Clients (and schemathesis) should find every status they can receive.
"""

ERROR_SCHEMA = {"$ref": "#/components/schemas/ErrorDetail"}
ERROR_COMPONENT = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": True,
}
ERRORS = {
    "400": "Invalid query parameter or body.",
    "401": "Not signed in (token authentication).",
    "403": "Not signed in, or not allowed (only staff may annotate trades).",
    "404": "No such record.",
    "405": "Method not allowed.",
    "406": "Requested format not available.",
}


def document_error_responses(result, generator, request, public):
    result.setdefault("components", {}).setdefault("schemas", {})["ErrorDetail"] = ERROR_COMPONENT
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, description in ERRORS.items():
                # Errors come in the format asked for: JSON, or CSV with ?format=csv.
                content = {"application/json": {"schema": ERROR_SCHEMA}, "text/csv": {"schema": {"type": "string"}}}
                responses.setdefault(status, {"description": description, "content": content})
    return result
