from django.contrib.admin.apps import AdminConfig


class TradeLabsAdminConfig(AdminConfig):
    """The admin, with Trade Labs' site (its first page is the day's dashboard)."""

    default_site = "tradelabs_site.admin.TradeLabsAdminSite"
