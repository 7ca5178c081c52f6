"""Who may manage training runs: the admin token, or a server on loopback only."""

import hmac

import pytest

from recognizer import safety
from recognizer.safety import TOKEN_ENV, admin_allowed, admin_rule, admin_token, is_loopback


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.2", "localhost", "LOCALHOST", "::1", "[::1]"])
def test_loopback_addresses_count_as_local(address):
    assert is_loopback(address)
    assert admin_allowed(None, address, {})


@pytest.mark.parametrize("address", [None, "", "0.0.0.0", "::", "192.168.1.20", "example.org", "localhost.evil.net"])
def test_every_other_address_is_exposed_and_locked_without_a_token(address):
    assert not is_loopback(address)
    assert not admin_allowed(None, address, {})
    assert not admin_allowed("anything", address, {})
    assert "Training controls are off" in admin_rule(address, {})


@pytest.mark.parametrize("address", ["127.0.0.1", "0.0.0.0", ""])
def test_a_set_token_is_required_wherever_the_server_listens(address):
    env = {TOKEN_ENV: "correct horse"}
    assert admin_allowed("correct horse", address, env)
    assert admin_allowed("  correct horse ", address, env)  # pasted with spaces
    for wrong in (None, "", "correct", "correct horse battery", "Correct horse"):
        assert not admin_allowed(wrong, address, env), wrong
    assert "needs the admin token" in admin_rule(address, env)


def test_a_blank_token_is_no_token():
    assert admin_token({TOKEN_ENV: "   "}) is None
    assert not admin_allowed("", "0.0.0.0", {TOKEN_ENV: "   "})
    assert admin_allowed(None, "127.0.0.1", {TOKEN_ENV: ""})


def test_the_token_is_compared_in_constant_time(monkeypatch):
    calls, compare = [], hmac.compare_digest

    def recording_compare(a, b):
        calls.append((a, b))
        return compare(a, b)

    monkeypatch.setattr(safety.hmac, "compare_digest", recording_compare)
    assert admin_allowed("abc", "0.0.0.0", {TOKEN_ENV: "abc"})
    assert not admin_allowed("abd", "0.0.0.0", {TOKEN_ENV: "abc"})
    assert calls == [(b"abc", b"abc"), (b"abd", b"abc")]


def test_the_environment_is_read_when_no_mapping_is_given(monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, "from-env")
    assert admin_allowed("from-env", "0.0.0.0")
    monkeypatch.delenv(TOKEN_ENV)
    assert not admin_allowed("from-env", "0.0.0.0") and admin_allowed(None, "::1")
