"""Who may change the server's models: start, stop, activate and delete training runs.

Training takes the machine's CPU for minutes or hours and activation changes what every visitor
sees, so these are admin actions. The rule:

- ``DIGITS_ADMIN_TOKEN`` set: whoever gives that token (compared in constant time), wherever the
  server listens;
- not set: anyone, but only while the server listens on a loopback address (127.0.0.1, ::1,
  localhost), where only this machine's users reach it. An empty address counts as exposed:
  Streamlit then listens on every interface.

A reverse proxy on the same machine makes a loopback server public: set the token there too.

    >>> admin_allowed(None, "127.0.0.1", {})
    True
    >>> admin_allowed(None, "0.0.0.0", {})
    False
    >>> admin_allowed("s3cret", "0.0.0.0", {"DIGITS_ADMIN_TOKEN": "s3cret"})
    True
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Mapping

TOKEN_ENV = "DIGITS_ADMIN_TOKEN"


def admin_token(env: Mapping[str, str] | None = None) -> str | None:
    """The configured admin token; None when unset or blank (a blank token would let anyone in)."""
    token = (os.environ if env is None else env).get(TOKEN_ENV, "")
    return token.strip() or None


def is_loopback(address: str | None) -> bool:
    """Whether a server bound to ``address`` is reachable from this machine only."""
    if not address:
        return False  # unset or "": Streamlit listens on all interfaces
    address = address.strip().strip("[]")  # "[::1]" as written in URLs
    if address.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve to anything


def admin_allowed(token_given: str | None, address: str | None, env: Mapping[str, str] | None = None) -> bool:
    """Whether someone who typed ``token_given`` may run admin actions on a server bound to ``address``."""
    expected = admin_token(env)
    if expected is None:
        return is_loopback(address)
    if not token_given:
        return False
    return hmac.compare_digest(token_given.strip().encode(), expected.encode())


def admin_rule(address: str | None, env: Mapping[str, str] | None = None) -> str:
    """One sentence for the page: what it takes to start, stop, activate or delete runs here."""
    if admin_token(env) is not None:
        return f"Starting, stopping, activating and deleting runs needs the admin token ({TOKEN_ENV})."
    if is_loopback(address):
        return "Anyone who can open this page may manage training: the server listens on this machine only."
    return (
        f"Training controls are off: this server is reachable from other machines and {TOKEN_ENV} is not "
        f"set. Restart it with {TOKEN_ENV}=… to manage runs from here, or use digits-train."
    )
