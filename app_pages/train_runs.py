"""The Train page's Runs section: every run in a table, and a picked run to activate or delete. Not a page itself."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages.shared import duration_text
from app_pages.train_admin import activate, admin_ok, delete
from recognizer.core.runs import list_runs
from recognizer.core.units import megabytes
from recognizer.reading.strip_reader import shipped_reader_facts

PICK_KEY = "train_pick"
RUN_COLUMNS = {
    "Active": st.column_config.CheckboxColumn("Active", help="The model the Draw page uses", width="small"),
    "Epochs": st.column_config.NumberColumn("Epochs", width="small"),
    "Created": st.column_config.DatetimeColumn("Created", format="YYYY-MM-DD HH:mm"),
    "Test accuracy": st.column_config.NumberColumn(
        "Test accuracy", format="%.2f %%", help="On the 10,000 MNIST test images"
    ),
    "Pen hold-out": st.column_config.NumberColumn(
        "Pen hold-out",
        format="%.2f %%",
        help="Real handwriting: pen digits of writers kept out of training, drawn as on the canvas",
    ),
    "Parameters": st.column_config.NumberColumn("Parameters", format="localized"),
    "Size (MB)": st.column_config.NumberColumn("Size (MB)", format="%.1f"),
    "Shipped": st.column_config.CheckboxColumn("Shipped", help="Ships with the app; cannot be deleted", width="small"),
}

ss = st.session_state


def runs_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Active": [r["active"] for r in rows],
            "Shipped": [r["shipped"] for r in rows],
            "Run": [r["name"] for r in rows],
            "Created": pd.to_datetime([r["created"] for r in rows], errors="coerce"),
            "Architecture": [r["architecture"] for r in rows],
            "Epochs": [r["epochs"] for r in rows],
            "Test accuracy": pd.Series([_pct(r["test_accuracy"]) for r in rows], dtype="float64"),
            "Pen hold-out": pd.Series([_pct(r["pen_holdout_accuracy"]) for r in rows], dtype="float64"),
            "Training time": [duration_text(r["training_seconds"]) for r in rows],
            "Parameters": [r["parameters"] for r in rows],
            "Size (MB)": pd.Series([megabytes(r["size_bytes"]) for r in rows], dtype="float64"),
            "Status": [r["status"] for r in rows],
        }
    )


def _pct(value: float | None) -> float | None:
    return None if value is None else 100 * value


def _run_label(row: dict) -> str:
    marks = [m for m, on in (("active", row["active"]), ("shipped", row["shipped"])) if on]
    acc = f"{row['test_accuracy']:.2%}" if row["test_accuracy"] is not None else "–"
    return f"{row['name']} · {acc}" + (f" ({', '.join(marks)})" if marks else "")


def _why_not_deletable(row: dict) -> str | None:
    if row["shipped"]:
        return "it ships with the app"
    if row["active"]:
        return "it is the active model: activate another one first"
    return None


def run_history(job_running: bool) -> None:
    rows = list_runs()
    if not rows:
        st.info("No runs yet.")
        return
    st.dataframe(runs_frame(rows), hide_index=True, column_config=RUN_COLUMNS, width="stretch")

    by_name = {r["name"]: r for r in rows}
    if ss.get(PICK_KEY) not in by_name:
        ss.pop(PICK_KEY, None)  # a deleted run: fall back to the first one
    pick_col, activate_col, delete_col = st.columns([3, 1, 1], vertical_alignment="bottom")
    name = pick_col.selectbox("Run", list(by_name), format_func=lambda n: _run_label(by_name[n]), key=PICK_KEY)
    row = by_name[name]
    # Callbacks run before the script, so the sidebar (drawn before this page) and the table
    # already show the new state.
    allowed = admin_ok()
    activate_col.button(
        "Activate",
        disabled=row["active"] or not allowed,
        width="stretch",
        key="train_activate",
        on_click=activate,
        args=(row["path"], name),
    )
    why_not = _why_not_deletable(row)
    with delete_col.popover("Delete…", disabled=why_not is not None or not allowed, width="stretch"):
        st.markdown(f"Delete **{name}** and its files for good?")
        st.button("Delete for good", type="primary", key="train_delete", on_click=delete, args=(row["path"], name))
    if why_not:
        st.caption(f"{name} cannot be deleted: {why_not}.")
    if job_running:
        st.caption("The running job's run appears here when it ends.")
    reader_note()


def reader_note() -> None:
    """The number reader is trained apart (its training numbers take a terminal's patience)."""
    facts = shipped_reader_facts()
    if facts is not None:
        st.caption(
            f"Numbers are also read by the strip reader **{facts['name']}** (see Explore → Number reader); "
            "retrain it from a terminal: `digits-train-reader --out DIR`."
        )
