"""URL wiring: the admin; the REST API under /api/v1/ with its OpenAPI schema and docs beside it."""

from django.conf import settings
from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.permissions import IsAuthenticated

from trading.health import database_reachable

# The schema and docs describe the API, and like the API they are for signed-in users.
signed_in = {"permission_classes": [IsAuthenticated]}


def healthz(request):
    """For load balancers and orchestrators: 200 while this process reaches its database, 503 when
    not. Unauthenticated, so it says nothing else (`manage.py healthcheck` checks the brokers)."""
    problem = database_reachable()
    return JsonResponse({"status": "unavailable" if problem else "ok"}, status=503 if problem else 200)


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    # Browsers ask every site for one; a 404 on each page view would be noise in the logs.
    path(
        "favicon.ico",
        RedirectView.as_view(url=f"/{settings.STATIC_URL.strip('/')}/tradelabs/favicon.svg", permanent=True),
    ),
    path("api/v1/", include("reporting.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(**signed_in), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema", **signed_in), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema", **signed_in), name="api-redoc"),
    path("api/auth/", include("rest_framework.urls")),
    # An API client asking for a path that does not exist gets JSON, not the HTML 404 page.
    re_path(r"^api/", csrf_exempt(lambda request, *args, **kwargs: JsonResponse({"detail": "Not found."}, status=404))),
]
