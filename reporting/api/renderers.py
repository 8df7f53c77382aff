"""CSV for every API response: a small renderer on DRF's BaseRenderer and the csv module.

List endpoints do not come through here for CSV: they stream every filtered row
(`ExportMixin.list`). This renders what is left: one object, an error, a page of data.
"""

import csv
import io
import json
from collections.abc import Iterable

from rest_framework.renderers import BaseRenderer

from reporting.exports import cell


def _flatten(record: dict, prefix: str = "") -> dict:
    """Nested objects become dotted columns; lists are written as JSON."""
    flat = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        elif isinstance(value, list):
            flat[name] = json.dumps(value, default=str)
        else:
            flat[name] = value
    return flat


class CSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        if data is None:
            return b""
        if isinstance(data, dict) and isinstance(data.get("results"), list):
            data = data["results"]
        records: Iterable = data if isinstance(data, list) else [data]
        rows = [_flatten(r) if isinstance(r, dict) else {"value": r} for r in records]
        headers: dict[str, None] = {}
        for row in rows:
            headers.update(dict.fromkeys(row))
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(headers)
        for row in rows:
            writer.writerow([cell(row.get(h)) for h in headers])
        return buffer.getvalue().encode(self.charset)
