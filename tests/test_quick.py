"""Quick mode is read from NNLIB_QUICK, and a value it does not understand is an error."""

import pytest

import nnlib


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("true", True), ("YES", True), ("", False), ("0", False), ("no", False)],
)
def test_quick_mode_reads_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv(nnlib.QUICK_ENV, value)
    assert nnlib.quick_mode() is expected


def test_quick_mode_is_off_when_unset(monkeypatch):
    monkeypatch.delenv(nnlib.QUICK_ENV, raising=False)
    assert nnlib.quick_mode() is False


def test_a_typo_is_an_error_that_names_the_variable(monkeypatch):
    monkeypatch.setenv(nnlib.QUICK_ENV, "quick")
    with pytest.raises(ValueError, match="NNLIB_QUICK='quick'"):
        nnlib.quick_mode()
