"""The admin and the API docs bring their own static files: served with DEBUG off, no CDN."""

import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_the_admin_css_is_served_with_debug_off(settings, staff_client):
    assert settings.DEBUG is False
    page = staff_client.get("/admin/").content.decode()
    stylesheets = re.findall(r'href="(/static/[^"]+\.css)"', page)
    assert stylesheets
    for href in stylesheets:
        response = Client().get(href)
        assert response.status_code == 200 and response["Content-Type"].startswith("text/css"), href


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_the_api_docs_load_nothing_from_another_host(staff_client, path):
    page = staff_client.get(path).content.decode()
    external = re.findall(r'(?:src|href)="(https?://[^"]+)"', page)
    assert external == []
    for asset in re.findall(r'src="(/static/[^"]+\.js)"', page):
        assert Client().get(asset).status_code == 200, asset
