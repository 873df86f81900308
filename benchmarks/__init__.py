"""`make bench`: the service measured against the database's own floor (docs/benchmarks.md)."""
