"""The admin site: Trade Labs' names, and a first page that says what needs a person today."""

from django.contrib import admin

from reporting.dashboard import dashboard_today
from trading.models import Book
from trading.services.books import BookNotFound, book_named


class TradeLabsAdminSite(admin.AdminSite):
    site_header = "Trade Labs"
    site_title = "Trade Labs"
    index_title = "Today"
    index_template = "admin/tradelabs_index.html"
    # The admin has no public site of its own: no "View site" link to a page that does not exist.
    site_url = None
    # Lists get the page's width (a trade list's P&L and status columns fit at 1366 px).
    enable_nav_sidebar = False
    empty_value_display = "–"  # an unknown value, the same dash everywhere

    def index(self, request, extra_context=None):
        context = dict(extra_context or {})
        if request.user.has_perm("trading.view_trade"):
            try:
                book = book_named(request.GET.get("book") or None)
            except BookNotFound as exc:
                context["dashboard_error"] = str(exc)
                book = book_named(None)
            context["dashboard"] = dashboard_today(book=book)
            context["books"] = list(Book.objects.order_by("name").values_list("name", flat=True))
        return super().index(request, extra_context=context)
