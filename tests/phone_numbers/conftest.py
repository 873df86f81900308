import pytest

from tests.support.factories import add_numbers


@pytest.fixture
def inventory(db):
    """Ten local numbers in 415, five in 212 and three toll-free in 800."""
    return add_numbers(
        *[f"+1415555{n:04d}" for n in range(10)],
        *[f"+1212555{n:04d}" for n in range(5)],
        *[f"+1800555{n:04d}" for n in range(3)],
    )
