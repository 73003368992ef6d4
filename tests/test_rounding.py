"""Numbers as the publisher's spreadsheet displays them: 15 significant digits, then half away from zero, once."""

from natoua.rounding import displayed


def test_a_float_just_below_a_half_is_rounded_as_the_spreadsheet_shows_it():
    assert 15668.749999999998 < 15668.75  # the binary float SIPRI's workbook stores for Türkiye 2015
    assert displayed(15668.749999999998, 1) == "15668.8"
    assert f"{15668.749999999998:.1f}" == "15668.7"  # what rounding the float itself gives


def test_half_away_from_zero_and_fixed_decimals():
    assert displayed(2, 2) == "2.00"
    assert displayed(0.125, 2) == "0.13"
    assert displayed(-0.125, 2) == "-0.13"
    assert displayed(0.041549999999999997, 4, scale=100) == "4.1550"


def test_rounded_once_not_twice():
    # 1.05304999 rounded to 6 significant digits is 1.05305, which rounds to 1.0531 at 4 decimals; once: 1.0530
    assert displayed(1.05304999, 4) == "1.0530"
