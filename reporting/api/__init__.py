"""The REST API under /api/v1/: read-only exports of the book of record; staff may annotate trades."""
