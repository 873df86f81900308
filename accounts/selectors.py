from django.db.models import Sum

from accounts.models import CreditTransaction, Organization


def wallet_for(organization: Organization) -> dict:
    """The wallet of an organization as loaded for this request (authentication reads it with
    the key, in the same request: reading it again would only cost a query)."""
    return {
        "balance_cents": organization.balance_cents,
        "held_cents": organization.held_cents,
        "available_cents": organization.available_cents,
    }


def ledger_for(organization: Organization):
    """The organization's ledger lines (any order: the list route pages newest first on
    (created_at, id), served by the (organization, -created_at, -id) index)."""
    return CreditTransaction.objects.filter(organization=organization)


def held_credit_total_cents() -> int:
    """Credit held for processing backorders, summed over every organization."""
    return Organization.objects.aggregate(total=Sum("held_cents"))["total"] or 0
