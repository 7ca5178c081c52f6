"""Who may manage training runs (the admin token, or a server on loopback only), and model and data
files that load without running code from them."""

import hmac
from pathlib import Path

import pytest

from recognizer.ops import safety
from recognizer.ops.safety import TOKEN_ENV, admin_allowed, admin_rule, admin_token, is_loopback


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


# ---------------------------------------------------------------------------------------------
# Model and data files load without running code from them
# ---------------------------------------------------------------------------------------------

SOURCE_DIRS = ("recognizer", "benchmarks", "app_pages")


def _sources():
    root = Path(__file__).resolve().parent.parent
    return [p for folder in SOURCE_DIRS for p in sorted((root / folder).rglob("*.py"))] + [root / "app.py"]


UNSAFE = ["allow_pickle=True", "safe_mode=False", "layers.Lambda", "enable_unsafe_deserialization"]


@pytest.mark.parametrize("unsafe", UNSAFE)
def test_no_source_opts_out_of_safe_loading(unsafe):
    offenders = [str(p) for p in _sources() if unsafe in p.read_text()]
    assert offenders == []


def test_no_architecture_holds_a_lambda_layer():
    import keras

    from recognizer.nets.architectures import MODELS, build_model

    for name in MODELS:
        for classes in (10, 11):
            model = build_model(name, classes)
            assert not [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.Lambda)], name


def test_a_model_file_with_code_in_it_is_refused(tmp_path):
    import keras

    from recognizer import load_recognizer

    inputs = keras.Input((28, 28, 1))
    flat = keras.layers.Flatten()(inputs)
    # Stands for code an attacker put in a model file: a safe loader must not run it.
    doubled = keras.layers.Lambda(lambda x: x * 2.0)(flat)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(doubled))
    model.save(tmp_path / "model.keras")
    with pytest.raises(ValueError, match="(?i)lambda"):
        load_recognizer(tmp_path)
