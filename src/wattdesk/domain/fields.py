"""The one place where the precision of stored decimals is decided.

Money is stored to the fen (分, 0.01 CNY), quantities (kWh, kW, kvarh, kVA) to 0.0001 and unit rates
(元/kWh, 元/kW·月) to 0.000001. Every model uses these fields instead of a bare ``DecimalField`` so a change
of precision is one edit here plus one migration, never a hunt through the tree. Floats are never used for
money or energy.
"""

from __future__ import annotations

from typing import Any

from django.db import models

MONEY_MAX_DIGITS = 14
MONEY_DECIMAL_PLACES = 2
QUANTITY_MAX_DIGITS = 16
QUANTITY_DECIMAL_PLACES = 4
RATE_MAX_DIGITS = 14
RATE_DECIMAL_PLACES = 6
RATIO_MAX_DIGITS = 6
RATIO_DECIMAL_PLACES = 4
COORDINATE_MAX_DIGITS = 9
COORDINATE_DECIMAL_PLACES = 6


class _FixedDecimalField(models.DecimalField):  # type: ignore[type-arg]
    max_digits_default: int = 0
    decimal_places_default: int = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", self.max_digits_default)
        kwargs.setdefault("decimal_places", self.decimal_places_default)
        super().__init__(*args, **kwargs)


class MoneyField(_FixedDecimalField):
    """Money in yuan, exact to the fen: max_digits=14, decimal_places=2 (up to ±999,999,999,999.99)."""

    max_digits_default = MONEY_MAX_DIGITS
    decimal_places_default = MONEY_DECIMAL_PLACES


class QuantityField(_FixedDecimalField):
    """A metered or billed quantity (kWh, kvarh, kW, kVA, kV): max_digits=16, decimal_places=4."""

    max_digits_default = QUANTITY_MAX_DIGITS
    decimal_places_default = QUANTITY_DECIMAL_PLACES


class RateField(_FixedDecimalField):
    """A unit price (元/kWh, 元/kW·月, 元/kVA·月): max_digits=14, decimal_places=6."""

    max_digits_default = RATE_MAX_DIGITS
    decimal_places_default = RATE_DECIMAL_PLACES


class RatioField(_FixedDecimalField):
    """A dimensionless ratio such as a power-factor standard (功率因数考核标准 0.90): 6 digits, 4 places."""

    max_digits_default = RATIO_MAX_DIGITS
    decimal_places_default = RATIO_DECIMAL_PLACES


class CoordinateField(_FixedDecimalField):
    """Latitude or longitude in degrees (WGS-84 / GCJ-02 as captured): 9 digits, 6 places (~0.1 m)."""

    max_digits_default = COORDINATE_MAX_DIGITS
    decimal_places_default = COORDINATE_DECIMAL_PLACES
