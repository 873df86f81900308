from accounts.models import Organization


def wallet_for(organization: Organization) -> dict:
    organization.refresh_from_db(fields=["balance_cents", "held_cents"])
    return {
        "balance_cents": organization.balance_cents,
        "held_cents": organization.held_cents,
        "available_cents": organization.available_cents,
    }
