"""The one place where the precision of stored decimals is decided.

Money is stored to the fen (分, 0.01 CNY), quantities (kWh, kW, kvarh, kVA) to 0.0001 and unit rates
(元/kWh, 元/kW·月) to 0.000001. Every model uses these fields instead of a bare ``DecimalField`` so a change
of precision is one edit here plus one migration, never a hunt through the tree. Floats are never used for
money or energy.
"""

from __future__ import annotations

from decimal import Decimal
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
FEN = Decimal("0.01")


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


class _ExactSum(models.Sum):
    """``Sum`` of a fixed-decimal column that is exact on every engine.

    SQLite keeps DECIMAL columns as 64-bit floats and ``SUM`` adds them as floats, so a plain ``Sum`` of
    1,000 × 0.10 comes back as 99.9999999999986. On SQLite this aggregate adds integer units of the column's
    last decimal instead (``SUM(CAST(ROUND(x * 10**places) AS INTEGER))``) and converts back; on PostgreSQL
    ``numeric`` is already exact. The result is a Decimal with the column's places, or ``default`` (None
    unless given) for no rows. ``distinct`` is not supported.
    """

    places = 2

    def __init__(self, expression: Any, *, default: Any = None, **extra: Any) -> None:
        if extra.get("distinct"):
            raise TypeError(f"{type(self).__name__} does not support distinct=True")
        extra.setdefault("output_field", self._field())
        self._exact_default = default
        super().__init__(expression, **extra)

    def _field(self) -> models.Field[Any, Any]:
        raise NotImplementedError

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        # Set the template on a copy: Aggregate.as_sql() rejects template= together with filter=.
        clone = self.copy()
        clone.template = f"%(function)s(CAST(ROUND(%(expressions)s * {10**self.places}) AS INTEGER))"
        return clone.as_sql(compiler, connection, **extra_context)

    def convert_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None:
            return self._exact_default
        amount = Decimal(value)
        if connection.vendor == "sqlite":
            amount = amount.scaleb(-self.places)
        return amount.quantize(Decimal(1).scaleb(-self.places))


class MoneySum(_ExactSum):
    """``Sum`` of a money column, exact to the fen on every engine (see ``_ExactSum``)."""

    places = 2

    def _field(self) -> models.Field[Any, Any]:
        return MoneyField()


class QuantitySum(_ExactSum):
    """``Sum`` of a quantity column (kWh, kvarh), exact to 0.0001 on every engine (see ``_ExactSum``)."""

    places = QUANTITY_DECIMAL_PLACES

    def _field(self) -> models.Field[Any, Any]:
        return QuantityField()
