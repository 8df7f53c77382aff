"""URL wiring: the admin, and each app's API under /api/v1/."""

from django.contrib import admin
from django.urls import path

admin.site.site_header = "Trade Labs"
admin.site.site_title = "Trade Labs"
admin.site.index_title = "Book of record"

urlpatterns = [
    path("admin/", admin.site.urls),
]
