"""Who may manage training on the Train page, and the actions that check it. Not a page itself.

Starting, stopping, activating and deleting need the admin token, or a server that listens on
this machine only (the rule: ``recognizer.ops.safety``). Every action checks again when it runs: a
disabled button is a hint to the browser, not a guard on the server.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from recognizer.core.runs import ModelNotFoundError, delete_run, set_active
from recognizer.ops import job_state
from recognizer.ops.safety import admin_allowed, admin_rule, admin_token

FLASH_KEY = "train_flash"
ADMIN_KEY = "train_admin_token"
NOT_ADMIN = "Managing training needs the admin token (or a server that listens on this machine only)."

ss = st.session_state


def admin_ok() -> bool:
    """Whether this visitor may start, stop, activate or delete runs."""
    return admin_allowed(ss.get(ADMIN_KEY), st.get_option("server.address"))


def admin_gate() -> None:
    """The admin-token field when a token is configured, and what it takes to manage runs here."""
    if admin_token() is not None:
        st.text_input("Admin token", type="password", key=ADMIN_KEY, persist_state="session")
    if not admin_ok():
        st.info(admin_rule(st.get_option("server.address")))


def flash(kind: str, message: str) -> None:
    """Show ``message`` after the next full rerun (an st.success would vanish with it)."""
    ss[FLASH_KEY] = (kind, message)


def show_flash() -> None:
    """The message an action left for this run (``flash``), once."""
    if FLASH_KEY in ss:
        kind, message = ss.pop(FLASH_KEY)
        getattr(st, kind)(message)


def stop(job_dir: Path) -> None:
    if admin_ok():
        job_state.stop_job(job_dir)
    else:
        flash("error", NOT_ADMIN)


def activate(run_dir: str, name: str) -> None:
    success = f"**{name}** is now the active model: the Draw page uses it."
    _run_action(lambda: set_active(run_dir), (ModelNotFoundError, OSError), f"Could not activate {name}", success)


def delete(run_dir: str, name: str) -> None:
    failures = (ValueError, ModelNotFoundError, OSError)
    _run_action(lambda: delete_run(run_dir), failures, f"Could not delete {name}", f"Deleted {name}.")


def _run_action(action, failures: tuple[type[Exception], ...], failed: str, success: str) -> None:
    """``action()`` when this visitor may manage runs; flash how it went (``failed: why`` or ``success``)."""
    if not admin_ok():
        flash("error", NOT_ADMIN)
        return
    try:
        action()
    except failures as exc:
        flash("error", f"{failed}: {exc}")
    else:
        flash("success", success)
