"""Who may see what: anonymous, authenticated non-staff and staff, for every admin page and
every API endpoint. Pages and endpoints are discovered, so new ones are covered unasked."""

import pytest
from django.contrib import admin
from django.urls import reverse

from reporting.api.urls import router

pytestmark = pytest.mark.django_db

ADMIN_PAGES = sorted(
    reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist") for model in admin.site._registry
)
API_LISTS = sorted(reverse(f"api:{basename}-list") for _prefix, _viewset, basename in router.registry)
API_DOCS = [reverse("api-schema"), reverse("api-docs"), reverse("api-redoc")]


@pytest.mark.parametrize("url", ["/admin/", *ADMIN_PAGES])
def test_admin_is_for_staff_only(client, plain_client, staff_client, url):
    for outsider in (client, plain_client):
        response = outsider.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert staff_client.get(url).status_code == 200


@pytest.mark.parametrize("url", API_LISTS + [u + "?format=csv" for u in API_LISTS] + API_DOCS)
def test_api_needs_a_signed_in_user_and_anonymous_gets_no_data(client, plain_client, staff_client, url):
    anonymous = client.get(url)
    assert anonymous.status_code in (401, 403)
    assert b"results" not in anonymous.content and b"symbol" not in anonymous.content
    assert plain_client.get(url).status_code == 200
    assert staff_client.get(url).status_code == 200


@pytest.mark.parametrize("url", API_LISTS)
def test_api_collections_cannot_be_written(plain_client, staff_client, url):
    for who in (plain_client, staff_client):
        assert who.post(url, {}, content_type="application/json").status_code in (403, 405)


def test_only_staff_may_annotate_a_trade_and_only_its_review_fields(client, plain_client, staff_client):
    from tests.factories import TradeFactory

    trade = TradeFactory()
    url = reverse("api:trade-detail", args=[trade.pk])
    body = {"notes": "checked", "review_status": "reviewed"}
    assert client.patch(url, body, content_type="application/json").status_code in (401, 403)
    assert plain_client.patch(url, body, content_type="application/json").status_code == 403
    assert staff_client.patch(url, body, content_type="application/json").status_code == 200
    staff_client.patch(url, {"realized_pnl": "1000000.00", "quantity": 1}, content_type="application/json")
    trade.refresh_from_db()
    assert trade.notes == "checked" and trade.quantity == 100 and trade.realized_pnl != 1000000
    assert staff_client.delete(url).status_code in (403, 405)
