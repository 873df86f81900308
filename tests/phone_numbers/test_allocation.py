import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from phone_numbers.allocation import (
    Criteria,
    NotEnoughNumbers,
    Routing,
    claim_listed_numbers,
    claim_matching_numbers,
    count_matching_available,
)
from phone_numbers.models import PhoneNumber
from tests.support.factories import add_numbers

NUMBERS_312 = [f"+1312555{n:04d}" for n in range(1001)]


@pytest.fixture
def stock_312(db):
    return add_numbers(*NUMBERS_312)


def queries_to_claim_matching(organization_id, quantity) -> int:
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        claimed = claim_matching_numbers(
            organization_id=organization_id,
            criteria=Criteria("local", "312"),
            quantity=quantity,
            routing=Routing(label="batch"),
        )
    assert len(claimed) == quantity
    return len(queries)


def queries_to_claim_listed(organization_id, numbers) -> int:
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        claim_listed_numbers(organization_id=organization_id, numbers=numbers)
    return len(queries)


def test_it_claims_1_or_1000_matching_numbers_with_the_same_queries(alice_org, stock_312):
    one = queries_to_claim_matching(alice_org.id, 1)
    thousand = queries_to_claim_matching(alice_org.id, 1000)

    assert one == thousand
    assert PhoneNumber.objects.filter(organization=alice_org, label="batch").count() == 1001


def test_it_claims_1_or_1000_listed_numbers_with_the_same_queries(alice_org, stock_312):
    one = queries_to_claim_listed(alice_org.id, NUMBERS_312[:1])
    thousand = queries_to_claim_listed(alice_org.id, NUMBERS_312[1:])

    assert one == thousand
    assert PhoneNumber.objects.filter(organization=alice_org).count() == 1001


def test_a_shortfall_costs_the_same_queries_for_1_and_1000(alice_org, db):
    def queries_for_shortfall(quantity):
        with (
            transaction.atomic(),
            CaptureQueriesContext(connection) as queries,
            pytest.raises(NotEnoughNumbers),
        ):
            claim_matching_numbers(
                organization_id=alice_org.id, criteria=Criteria("local", "999"), quantity=quantity
            )
        return len(queries)

    assert queries_for_shortfall(1) == queries_for_shortfall(1000)


def test_it_claims_nothing_on_a_shortfall(alice_org, db):
    add_numbers("+13125550001", "+13125550002")

    with transaction.atomic(), pytest.raises(NotEnoughNumbers) as raised:
        claim_matching_numbers(
            organization_id=alice_org.id, criteria=Criteria("local", "312"), quantity=3
        )

    assert raised.value.available_count == 2
    assert PhoneNumber.objects.filter(state="available").count() == 2


def test_it_matches_type_area_code_and_pattern(alice_org, db):
    add_numbers("+13125550001", "+13125557777", "+12125557777", "+18005557777")

    with transaction.atomic():
        claimed = claim_matching_numbers(
            organization_id=alice_org.id,
            criteria=Criteria("local", "312", pattern="777"),
            quantity=1,
        )

    assert claimed == ["+13125557777"]
    assert count_matching_available(Criteria("local", pattern="777")) == 1
    assert count_matching_available(Criteria("toll_free", pattern="777")) == 1


def test_it_claims_what_there_is_when_not_all_or_nothing(alice_org, db):
    add_numbers("+13125550001", "+13125550002")

    with transaction.atomic():
        claimed = claim_matching_numbers(
            organization_id=alice_org.id,
            criteria=Criteria("local"),
            quantity=5,
            all_or_nothing=False,
        )

    assert claimed == ["+13125550001", "+13125550002"]


def test_listed_claim_names_the_unavailable_numbers(alice_org, bob_org, db):
    add_numbers("+13125550001", "+13125550002")
    with transaction.atomic():
        claim_listed_numbers(organization_id=bob_org.id, numbers=["+13125550002"])

    with transaction.atomic(), pytest.raises(NotEnoughNumbers) as raised:
        claim_listed_numbers(
            organization_id=alice_org.id,
            numbers=["+13125550001", "+13125550002", "+13125550003"],
        )

    assert raised.value.available_count == 1
    assert raised.value.unavailable_numbers == ["+13125550002", "+13125550003"]
    assert PhoneNumber.objects.get(number="+13125550001").state == "available"
