"""Formatting numbers, money and dates for prose, tables and captions (one house style)."""

from __future__ import annotations

import math
import re
from datetime import date, datetime

import pandas as pd

CURRENCY_SYMBOL = {"EUR": "€", "USD": "$", "GBP": "£"}


def number(value, decimals: int = 0) -> str:
    """1234.5 -> '1,234.5'; missing -> '–'."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "–"
    return f"{value:,.{decimals}f}"


def pct(value, decimals: int = 1) -> str:
    """2.034 -> '2.0%'."""
    return "–" if is_missing(value) else f"{value:.{decimals}f}%"


def money_bn(value, currency: str = "EUR", decimals: int = 1) -> str:
    """349.87 -> '€349.9 bn'."""
    if is_missing(value):
        return "–"
    symbol = CURRENCY_SYMBOL.get(currency)
    body = f"{value:,.{decimals}f} bn"
    return f"{symbol}{body}" if symbol else f"{currency} {body}"


def money(amount, currency: str, unit: str = "bn", decimals: int = 1) -> str:
    """(2.5, 'GBP') -> '£2.5 bn'; other currencies by ISO code: 'CAD 3.0 bn'."""
    if is_missing(amount):
        return "–"
    symbol = CURRENCY_SYMBOL.get(currency)
    body = f"{amount:,.{decimals}f} {unit}".strip()
    return f"{symbol}{body}" if symbol else f"{currency} {body}"


_CODE_AMOUNT = re.compile(r"\b(EUR|USD|GBP|CAD|SEK|NOK)\s?(\d[\d,]*(?:\.\d+)?)\s?(billion|bn|million|m)\b")
_SYMBOL_AMOUNT = re.compile(r"([€$£])\s?(\d[\d,]*(?:\.\d+)?)\s?(B|bn|billion|M|m|million)\b")
_SYMBOL_CODE = {v: k for k, v in CURRENCY_SYMBOL.items()}


def house_money(text: str) -> str:
    """Money written elsewhere ('EUR 90 billion', 'USD 500 million', '$170B') in the house style ('€90 bn',
    '$500 m', '$170 bn'), for dataset text shown in prose. Quotations are the caller's to keep verbatim."""
    def unit(word: str) -> str:
        return "bn" if word.lower() in ("b", "bn", "billion") else "m"

    def code(match):
        currency, amount, word = match.groups()
        symbol = CURRENCY_SYMBOL.get(currency)
        return f"{symbol}{amount} {unit(word)}" if symbol else f"{currency} {amount} {unit(word)}"

    text = _CODE_AMOUNT.sub(code, str(text))
    return _SYMBOL_AMOUNT.sub(lambda m: f"{m.group(1)}{m.group(2)} {unit(m.group(3))}", text)


def day(value, precision: str = "day") -> str:
    """A date as prose at the precision it is known: '12 July 2024', 'July 2024', '2024'."""
    if is_missing(value):
        return "date unknown"
    if isinstance(value, str):
        value = date.fromisoformat(value)
    if isinstance(value, (pd.Timestamp, datetime)):
        value = value.date()
    if precision == "year":
        return f"{value.year}"
    if precision == "month":
        return value.strftime("%B %Y")
    return f"{value.day} {value.strftime('%B %Y')}"


def month_year(value) -> str:
    return day(value, "month")


def years(value, decimals: int = 1) -> str:
    """3.25 -> '3.3 years'; 1 -> '1.0 year'."""
    if is_missing(value):
        return "–"
    unit = "year" if round(value, decimals) == 1 else "years"
    return f"{value:.{decimals}f} {unit}"


def join(items) -> str:
    """['a','b','c'] -> 'a, b and c'."""
    items = [str(i) for i in items]
    if not items:
        return "none"
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def is_missing(value) -> bool:
    """None, pd.NA or NaN: no value to show."""
    if value is None or value is pd.NA:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def year_ranges(years) -> str:
    """[2014, 2015, 2016, 2020] -> '2014–2016 and 2020' (consecutive years joined by an en dash)."""
    ys = sorted({int(y) for y in years})
    runs: list[list[int]] = []
    for y in ys:
        if runs and y == runs[-1][-1] + 1:
            runs[-1].append(y)
        else:
            runs.append([y])
    return join(f"{r[0]}–{r[-1]}" if len(r) > 1 else f"{r[0]}" for r in runs)


def plural(n: int, word: str, words: str | None = None) -> str:
    """(1, 'publisher') -> '1 publisher'; (4, 'publisher') -> '4 publishers'."""
    return f"{n:,} {word if n == 1 else (words or word + 's')}"
