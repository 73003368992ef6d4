"""Numbers as their publisher displays them.

A spreadsheet stores a binary float and displays it rounded by its number format. Excel (and so the publisher)
first takes the float to 15 significant digits, then rounds half away from zero: the float
15668.749999999998 is 15668.75 to 15 digits and is displayed 15668.8 with one decimal, where rounding the
float itself would give 15668.7. `displayed` does the same, once, so a dataset holds what the reader of the
publisher's file sees.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

SIGNIFICANT = 15  # the digits a spreadsheet keeps of a binary float


def exact(value: float) -> Decimal:
    """The float as a spreadsheet reads it: 15 significant digits."""
    return Decimal(format(float(value), f".{SIGNIFICANT}g"))


def displayed(value: float, decimals: int, scale: int = 1) -> str:
    """`value` (times `scale`, e.g. 100 for a fraction shown as percent) at `decimals` decimals, rounded once,
    half away from zero, from its 15-significant-digit form: as the publisher's spreadsheet displays it."""
    number = exact(value) * scale
    return str(number.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


def significant(value, digits: int) -> str:
    """`value` (a float, or exact text such as an ECB rate) at `digits` significant digits, rounded once, half away
    from zero: the precision of the ECB's reference rates is 5 significant digits (1.0530, 0.85950, 138.03)."""
    number = Decimal(value) if isinstance(value, (str, Decimal)) else exact(value)
    if number == 0:
        return "0"
    exponent = number.adjusted() - digits + 1
    return str(number.quantize(Decimal(1).scaleb(exponent), rounding=ROUND_HALF_UP))


def mean_significant(values, digits: int) -> str:
    """The exact mean of decimal texts (no binary float in between), at `digits` significant digits, rounded once."""
    values = [Decimal(v) for v in values]
    return significant(sum(values) / len(values), digits)
