"""Every write to phone numbers but claiming them (phone_numbers.allocation), by concern:

- inventory: adding numbers (seed_inventory, import_inventory, the admin CSV import) and the
  numbers a carrier delivered;
- owned: routing changes of an organization's numbers;
- release: releases by the organization and by staff, and the end of quarantine.

Selling numbers is an order: orders.services (explicit and bulk orders)."""
