from rest_framework.pagination import LimitOffsetPagination


class ExportPagination(LimitOffsetPagination):
    """?limit=&offset= pages of JSON; CSV ignores pages and streams every filtered row."""

    default_limit = 100
    max_limit = 1000
