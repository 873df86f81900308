"""The back office in a real browser: Debian's chromium, headless, driven by Playwright against
a live server. The live server runs in another thread, so these tests commit their data
(transactional_db) for it to see."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import StaffAction
from orders.models import BulkOrder
from phone_numbers.models import NumberPrice, PhoneNumber
from tests.backoffice.conftest import ARTIFACTS, log_in, processing_order
from tests.support.factories import make_org

pytestmark = pytest.mark.usefixtures("transactional_db")


@pytest.fixture
def number_prices():
    # transactional_db flushes the tables between tests, data migrations included.
    for number_type, cents in (("local", 100), ("toll_free", 200)):
        NumberPrice.objects.get_or_create(number_type=number_type, defaults={"price_cents": cents})


def demo_inventory():
    rows = [
        (area_code, number_type, count)
        for area_code, number_type, count in (
            ("415", "local", 120),
            ("212", "local", 80),
            ("646", "local", 45),
            ("312", "local", 30),
            ("800", "toll_free", 25),
            ("888", "toll_free", 10),
        )
    ]
    PhoneNumber.objects.bulk_create(
        [
            PhoneNumber(
                number=f"+1{area_code}555{i:04d}", number_type=number_type, area_code=area_code
            )
            for area_code, number_type, count in rows
            for i in range(count)
        ]
    )


def test_a_support_user_finds_a_processing_order_by_label_and_closes_it(
    page, live_server, support_user, number_prices
):
    org = make_org("Acme Telecom", credit_cents=10_000)
    order = processing_order(org, label="spring-campaign", quantity=5)
    processing_order(org, label="other-pool", quantity=2)

    log_in(page, live_server, support_user)
    page.goto(f"{live_server.url}/admin/orders/bulkorder/")
    page.fill("#searchbar", "spring-campaign")
    page.press("#searchbar", "Enter")
    page.wait_for_selector("#result_list")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1
    assert "spring-campaign" in rows.first.inner_text()

    rows.first.locator("input.action-select").check()
    page.select_option("select[name=action]", "close_orders")
    page.click("button[name=index]")
    page.fill("textarea[name=reason]", "customer cancelled by phone")
    page.click("input[name=apply]")
    page.wait_for_selector(".messagelist")
    assert "Closed 1 order(s)." in page.inner_text(".messagelist")

    page.goto(f"{live_server.url}/admin/orders/bulkorder/{order.pk}/change/")
    status = page.locator(".field-status .readonly").inner_text()
    ledger = page.locator(".field-ledger_entries").inner_text()
    assert status == "Failed"
    assert "customer cancelled by phone (sam)" in page.locator(".field-close_reason").inner_text()
    assert "release" in ledger and "-500" in ledger  # the hold of 5 × 100 cents is released
    order.refresh_from_db()
    assert order.status == BulkOrder.Status.FAILED
    assert StaffAction.objects.get(action="order_close").user == support_user


def test_a_support_user_cannot_reach_the_price_editor(
    page, live_server, support_user, number_prices
):
    price = NumberPrice.objects.get(number_type="local")

    log_in(page, live_server, support_user)
    page.goto(f"{live_server.url}/admin/phone_numbers/numberprice/{price.pk}/change/")

    assert page.locator("input[name=price_cents]").count() == 0
    assert page.locator("input[name=_save]").count() == 0
    # Even a hand-made POST with the session and a valid CSRF token is refused.
    url = f"{live_server.url}/admin/phone_numbers/numberprice/{price.pk}/change/"
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    response = page.request.post(
        url,
        form={"price_cents": "1", "csrfmiddlewaretoken": token},
        headers={"Referer": url},
    )
    assert response.status == 403
    assert "403 Forbidden" in response.text()
    price.refresh_from_db()
    assert price.price_cents == 100


def test_the_dashboard_shows_orders_inventory_and_credit(page, live_server, support_user):
    rich = make_org("Acme Telecom", credit_cents=250_000)
    make_org("Bluebird Calls", credit_cents=400)
    make_org("Corner Shop", credit_cents=0)
    processing_order(rich, label="spring-campaign", quantity=20)
    processing_order(rich, label="call-centre", quantity=5)
    for status, assigned in (("failed", 0), ("partial", 7)):
        BulkOrder.objects.create(
            organization=rich,
            quantity=10,
            number_type="local",
            area_code="305",
            unit_price_cents=100,
            is_backorder=True,
            status=status,
            assigned_count=assigned,
            failed_count=10 - assigned,
            completed_at=timezone.now() - timedelta(hours=2),
        )
    demo_inventory()
    # A day of orders for the trend charts: some filled at once, backorders that took minutes.
    now = timezone.now()
    for hours_ago in range(0, 24, 2):
        placed = now - timedelta(hours=hours_ago, minutes=10)
        for took_minutes, is_backorder in ((0, False), (2 + hours_ago % 5, True), (9, True)):
            BulkOrder.objects.create(
                organization=rich,
                quantity=2,
                number_type="local",
                unit_price_cents=100,
                is_backorder=is_backorder,
                status="complete",
                assigned_count=2,
                created_at=placed,
                completed_at=placed + timedelta(minutes=took_minutes),
            )

    log_in(page, live_server, support_user)
    page.goto(f"{live_server.url}/admin/")

    assert page.locator("#dashboard-processing .figure").inner_text() == "2"
    assert page.locator("#dashboard-problems .figure").inner_text() == "2"
    assert page.locator("#dashboard-inventory .figure").inner_text() == "310"
    low_credit = page.locator("#dashboard-low-credit").inner_text()
    assert "Bluebird Calls" in low_credit and "Corner Shop" in low_credit
    assert "Acme Telecom" not in low_credit
    orders_chart = page.locator("#dashboard-orders-trend")
    assert (
        orders_chart.locator(".figure").inner_text() == "40"
    )  # 36 + the 2 processing + the 2 problems
    assert orders_chart.locator("svg rect").count() >= 12
    assert orders_chart.locator("svg rect").first.bounding_box()["height"] > 0
    completion = page.locator("#dashboard-completion-trend")
    assert completion.locator("#completion-p50").inner_text() == "6 min"
    assert completion.locator("#completion-p95").inner_text() == "9 min"
    assert completion.locator("svg polyline").count() == 2
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000
