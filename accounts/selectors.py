from accounts.models import CreditTransaction, Organization


def wallet_for(organization: Organization) -> dict:
    organization.refresh_from_db(fields=["balance_cents", "held_cents"])
    return {
        "balance_cents": organization.balance_cents,
        "held_cents": organization.held_cents,
        "available_cents": organization.available_cents,
    }


def ledger_for(organization: Organization):
    """The organization's ledger lines (any order: the list route pages newest first on
    (created_at, id), served by the (organization, -created_at, -id) index)."""
    return CreditTransaction.objects.filter(organization=organization)
