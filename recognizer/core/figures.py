"""Every figure of the project, in Plotly: the app's pages and the HTML report draw the same ones.

Builders are pure: data in (NumPy arrays, a run's JSON files, ``recognizer.evaluation`` results),
a ``plotly.graph_objects.Figure`` out. Never imports streamlit.

    >>> fig = probability_chart([0.05, 0.9, 0.05, 0, 0, 0, 0, 0, 0, 0])
    >>> fig.data[0].marker.color[1]
    '#e4572e'
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

BLUE, RED, GREY = "#1f77b4", "#e4572e", "#9aa5b1"
DIGITS = list(range(10))


def _bar_centres(edges) -> tuple[np.ndarray, np.ndarray]:
    """Centres and 90 %-wide bars of histogram bins with these edges."""
    edges = np.asarray(edges, dtype=float)
    return (edges[:-1] + edges[1:]) / 2, np.diff(edges) * 0.9


# --- One answer ----------------------------------------------------------------------------------


def probability_chart(probabilities, height: int = 300) -> go.Figure:
    """Horizontal bars of the ten class probabilities, the top one highlighted."""
    probabilities = np.asarray(probabilities, dtype=float)
    best = int(probabilities.argmax())
    # Drawn after every stroke: built in one call, since each ``update_layout`` walks Plotly's
    # validators again (timed in docs/serving.md).
    return go.Figure(
        data=[
            go.Bar(
                x=probabilities,
                y=[str(d) for d in range(10)],
                orientation="h",
                marker_color=[RED if d == best else GREY for d in range(10)],
                text=[f"{p:.0%}" if p >= 0.01 else "" for p in probabilities],
                textposition="outside",
                hovertemplate="digit %{y}: %{x:.2%}<extra></extra>",
            )
        ],
        layout=dict(
            height=height,
            margin=dict(l=10, r=10, t=10, b=10),
            xaxis=dict(range=[0, 1.15], tickformat=".0%", showgrid=False),
            yaxis=dict(autorange="reversed", type="category", title=None),
            showlegend=False,
        ),
    )


def boxes_figure(ink: np.ndarray, predictions) -> go.Figure:
    """A drawing's ink (0..1) with a box and the answer over each digit; grey "?" for not a digit."""
    fig = go.Figure(go.Heatmap(z=ink, colorscale="Greys", showscale=False, hoverinfo="skip"))
    for p in predictions:
        x, y, w, h = p.box
        color = RED if p.is_digit else GREY
        fig.add_shape(type="rect", x0=x, y0=y, x1=x + w, y1=y + h, line=dict(color=color, width=2))
        text = f"{p.digit}" if p.is_digit else "?"
        fig.add_annotation(x=x + w / 2, y=y, text=text, showarrow=False, yshift=12, font=dict(size=16))
    fig.update_layout(
        height=260,
        margin=dict(l=0, r=0, t=24, b=0),
        xaxis=dict(visible=False),
        yaxis=dict(visible=False, autorange="reversed", scaleanchor="x"),
    )
    return fig


def overlay_figure(image: np.ndarray, heat: np.ndarray, title: str) -> go.Figure:
    """A digit in greys with a heat map (saliency, Grad-CAM) over it."""
    fig = go.Figure(go.Heatmap(z=image, colorscale="Greys", reversescale=True, showscale=False, hoverinfo="skip"))
    fig.add_trace(
        go.Heatmap(
            z=heat,
            colorscale="Inferno",
            zmin=0,
            zmax=1,
            opacity=0.55,
            showscale=False,
            hovertemplate="x %{x}, y %{y}: %{z:.2f}<extra></extra>",
        )
    )
    fig.update_layout(
        height=300,
        width=300,
        title=title,
        margin=dict(l=0, r=0, t=30, b=0),
        xaxis=dict(visible=False),
        yaxis=dict(visible=False, autorange="reversed", scaleanchor="x"),
    )
    return fig


# --- Training -------------------------------------------------------------------------------------

_CURVES = [  # history key, legend name, colour, dash, panel
    ("loss", "train", BLUE, "solid", 1),
    ("val_loss", "validation", RED, "dash", 1),
    ("accuracy", "train", BLUE, "solid", 2),
    ("val_accuracy", "validation", RED, "dash", 2),
]
SMOOTHING = 0.6  # TensorBoard's default weight: the raw curve stays visible, faint, beneath


def _has_values(values) -> bool:
    return bool(values) and any(v is not None for v in values)


def _values(*series) -> list[float]:
    return [float(v) for values in series if values for v in values if v is not None]


def smoothed(values, weight: float = SMOOTHING) -> list[float | None]:
    """An exponential moving average, debiased at the start as TensorBoard's is; gaps stay gaps.

    >>> [round(v, 3) if v is not None else v for v in smoothed([1.0, None, 3.0], weight=0.5)]
    [1.0, None, 2.333]
    """
    out, average, count = [], 0.0, 0
    for value in values:
        if value is None:
            out.append(None)
            continue
        average, count = weight * average + (1 - weight) * value, count + 1
        out.append(average / (1 - weight**count))
    return out


def learning_curves_figure(history: dict, curve: dict | None = None, validated: bool | None = None) -> go.Figure:
    """Loss and accuracy against epochs, and the learning rate in a panel of its own.

    ``history`` is a run's history.json: lists per epoch (loss, val_loss, accuracy, ...). ``curve``
    is its batches.json (``recognizer.training.batch_curves``): points within epochs, drawn faint
    and smoothed in place of the per-epoch training points. The x axis is continuous epochs: a
    validation point sits at the end of its epoch. ``validated``: whether the run holds out a
    validation split (None: as the history shows). Accuracy never goes above 100 %, loss never
    below 0. The rate has its own panel because a second y axis on the loss panel printed its ticks
    over the accuracy axis.
    """
    curve = curve if curve and _has_values(curve.get("loss")) else None
    epochs = history.get("epoch") or list(range(1, len(history.get("loss") or []) + 1))
    rate_x, rates = (curve["epoch"], curve.get("learning_rate")) if curve else (epochs, history.get("learning_rate"))
    with_rate = _has_values(rates)
    titles = ("Loss", "Accuracy", "Learning rate") if with_rate else ("Loss", "Accuracy")
    fig = make_subplots(rows=1, cols=len(titles), subplot_titles=titles, horizontal_spacing=0.08)
    if curve:
        _add_training_curve(fig, curve)
    for metric, name, color, dash, col in _CURVES:
        if (curve and name == "train") or not _has_values(history.get(metric)):
            continue  # the curve shows training; no validation split: no validation series
        fig.add_trace(_epoch_trace(epochs, history[metric], metric, name, color, dash, col), row=1, col=col)
    if with_rate:
        _add_learning_rate(fig, rate_x, rates)
    _honest_axes(fig, history, curve, max(_values(rate_x, epochs) or [1]))
    if validated is False or (validated is None and not _has_values(history.get("val_loss"))):
        fig.update_layout(legend_title_text="trained without a validation split:")
    if not curve and len(epochs) == 1:
        fig.add_annotation(
            text="One epoch, and no curve within it: each series is a single point.",
            xref="paper",
            yref="paper",
            x=0.5,
            y=1.16,
            showarrow=False,
            font=dict(color=GREY),
        )
    fig.update_layout(height=340, margin=dict(l=10, r=10, t=50, b=10), legend=dict(orientation="h", y=-0.25))
    return fig


def _epoch_trace(epochs, values, metric: str, name: str, color: str, dash: str, col: int) -> go.Scatter:
    return go.Scatter(
        x=epochs,
        y=values,
        name=name,
        mode="lines+markers",
        line=dict(color=color, dash=dash),
        legendgroup=name,
        showlegend=col == 1,
        cliponaxis=False,
        hovertemplate=f"epoch %{{x}}<br>{metric}: %{{y:.4f}}<extra></extra>",
    )


def _add_training_curve(fig: go.Figure, curve: dict) -> None:
    """The training loss and accuracy within epochs: the raw points faint, a smoothed line over them."""
    for metric, col in (("loss", 1), ("accuracy", 2)):
        raw = curve.get(metric) or []
        if not _has_values(raw):
            continue
        hover = f"epoch %{{x:.2f}}<br>{metric}: %{{y:.4f}}<extra></extra>"
        faint = dict(color=BLUE, width=1)
        fig.add_trace(
            go.Scatter(
                x=curve["epoch"],
                y=raw,
                name="train (raw)",
                mode="lines",
                line=faint,
                opacity=0.3,
                legendgroup="raw",
                showlegend=col == 1,
                hovertemplate=hover,
            ),
            row=1,
            col=col,
        )
        fig.add_trace(
            go.Scatter(
                x=curve["epoch"],
                y=smoothed(raw),
                name="train",
                mode="lines",
                line=dict(color=BLUE),
                legendgroup="train",
                showlegend=col == 1,
                hovertemplate=hover,
            ),
            row=1,
            col=col,
        )


def _honest_axes(fig: go.Figure, history: dict, curve: dict | None, last_epoch: float) -> None:
    """Epochs from 0; loss from 0; accuracy at most 100 %, starting a little under its lowest value."""
    fig.update_xaxes(title_text="epoch", range=[0, last_epoch * 1.03])
    losses = _values(history.get("loss"), history.get("val_loss"), (curve or {}).get("loss"))
    fig.update_yaxes(range=[0, max(losses or [1.0]) * 1.05], row=1, col=1)
    accuracies = _values(history.get("accuracy"), history.get("val_accuracy"), (curve or {}).get("accuracy"))
    low = min(accuracies or [0.0])
    fig.update_yaxes(range=[max(0.0, low - 0.1 * (1 - low) - 0.005), 1.0], tickformat=".1%", row=1, col=2)


def _add_learning_rate(fig: go.Figure, epochs, rates) -> None:
    fig.add_trace(
        go.Scatter(
            x=epochs,
            y=rates,
            name="learning rate",
            mode="lines" if len(epochs) > 1 else "markers",
            line=dict(color=GREY, dash="dot"),
            hovertemplate="epoch %{x:.2f}<br>learning rate: %{y:.2e}<extra></extra>",
        ),
        row=1,
        col=3,
    )
    fig.update_yaxes(row=1, col=3, range=[0, max(_values(rates)) * 1.05], exponentformat="e", tickformat=".1e")


# --- Test-set results -----------------------------------------------------------------------------


def _confusion_text(cm: np.ndarray, rates: np.ndarray, normalised: bool) -> list[list[str]]:
    """Each cell's label: its count, or its share of the row; empty cells stay blank."""
    return [
        ["" if cm[t, p] == 0 else (f"{rates[t, p]:.1%}" if normalised else str(cm[t, p])) for p in DIGITS]
        for t in DIGITS
    ]


def _cell_markers(cm: np.ndarray, rates: np.ndarray) -> go.Scatter:
    """A transparent marker on every cell centre: heatmaps send no point-selection events, markers do."""
    tt, pp = np.meshgrid(DIGITS, DIGITS, indexing="ij")
    return go.Scatter(
        x=pp.ravel(),
        y=tt.ravel(),
        mode="markers",
        marker=dict(symbol="square", size=34, color="rgba(0,0,0,0)"),
        customdata=np.stack([cm.ravel(), rates.ravel()], axis=1),
        hovertemplate="true %{y}, predicted %{x}<br>%{customdata[0]} samples (%{customdata[1]:.2%} of the row)"
        "<extra>click for the samples</extra>",
        showlegend=False,
    )


def _digit_axis(title: str, **kwargs) -> dict:
    return dict(title=title, tickmode="array", tickvals=DIGITS, showgrid=False, zeroline=False, **kwargs)


def confusion_figure(cm, normalised: bool = False, clickable: bool = True) -> go.Figure:
    """The 10x10 confusion matrix as a heatmap (log colour scale, so the few errors show).

    ``clickable``: a click on a cell selects it (its marker's x and y are the predicted and true digit).
    """
    cm = np.asarray(cm, dtype=int)
    rates = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    heatmap = go.Heatmap(
        z=np.log10(np.maximum(rates, 1e-4)),  # the same colours either way: 1e-4 (or 0) .. 1
        x=DIGITS,
        y=DIGITS,
        text=_confusion_text(cm, rates, normalised),
        texttemplate="%{text}",
        textfont=dict(size=11),
        colorscale="Blues",
        zmin=-4,
        zmax=0,
        showscale=False,
        hoverinfo="skip" if clickable else None,
    )
    fig = go.Figure(heatmap)
    if clickable:
        fig.add_trace(_cell_markers(cm, rates))
        fig.update_layout(hovermode="closest", hoverdistance=-1, clickmode="event+select")  # a click anywhere in a cell
    fig.update_layout(
        height=520,
        margin=dict(l=10, r=10, t=10, b=10),
        xaxis=_digit_axis("predicted", range=[-0.5, 9.5], side="top"),
        yaxis=_digit_axis("true", range=[9.5, -0.5], scaleanchor="x"),
    )
    return fig


def roc_figure(curves: dict) -> go.Figure:
    """One-vs-rest ROC curve of every class (``analysis.roc_curves``), false positives on a log axis."""
    fig = go.Figure()
    for digit, c in sorted(curves.items(), key=lambda kv: int(kv[0])):
        if c["auc"] is None:  # a class absent from the labels has no curve
            continue
        fig.add_trace(go.Scatter(x=c["fpr"], y=c["tpr"], mode="lines", name=f"{digit} (AUC {c['auc']:.4f})"))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(color=GREY, dash="dot"), showlegend=False))
    fig.update_layout(
        height=380,
        margin=dict(l=10, r=10, t=30, b=10),
        title="One-vs-rest ROC",
        xaxis=dict(title="false positive rate", type="log", range=[-5, 0]),
        yaxis=dict(title="true positive rate"),
    )
    return fig


def reliability_figure(rel: dict) -> go.Figure:
    """Accuracy per confidence bin against the diagonal of perfect calibration (``analysis.reliability``)."""
    centres, widths = _bar_centres(rel["bin_edges"])
    counts = np.asarray(rel["count"])
    fig = go.Figure(
        go.Bar(
            x=centres,
            y=rel["accuracy"],  # None for an empty bin: no bar
            width=widths,
            name="accuracy",
            marker_color=BLUE,
            customdata=counts,
            hovertemplate="confidence %{x:.2f}<br>accuracy %{y:.2%}<br>%{customdata} samples<extra></extra>",
        )
    )
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(color=RED, dash="dot"), name="ideal"))
    fig.update_layout(
        height=380,
        margin=dict(l=10, r=10, t=30, b=10),
        title=f"Reliability (ECE {rel['ece']:.3%})",
        xaxis=dict(title="confidence", range=[0, 1]),
        yaxis=dict(title="accuracy", range=[0, 1.02], tickformat=".0%"),
        showlegend=False,
    )
    return fig


def confidence_figure(hist: dict) -> go.Figure:
    """How sure the right and the wrong answers are (``analysis.confidence_histogram``), log counts."""
    centres, widths = _bar_centres(hist["bin_edges"])
    fig = go.Figure()
    for name, color in (("correct", BLUE), ("wrong", RED)):
        fig.add_trace(go.Bar(x=centres, y=hist[name], name=name, marker_color=color, width=widths))
    fig.update_layout(
        height=380,
        margin=dict(l=10, r=10, t=30, b=10),
        title="Confidence of the answers",
        barmode="overlay",
        xaxis=dict(title="confidence (top probability)"),
        yaxis=dict(title="test samples", type="log"),
        legend=dict(orientation="h", y=-0.25),
    )
    return fig


# --- Runs side by side ----------------------------------------------------------------------------


def bar_figure(names: list[str], values: list, title: str, fmt: str) -> go.Figure:
    """One bar per run, its value written above it ("–" for a run without the value)."""
    fig = go.Figure(
        go.Bar(
            x=names,
            y=values,
            marker_color=BLUE,
            text=[("–" if v is None else format(v, fmt)) for v in values],
            textposition="outside",
        )
    )
    fig.update_layout(height=280, margin=dict(l=10, r=10, t=40, b=10), title=title, yaxis=dict(visible=False))
    return fig


# --- The data -------------------------------------------------------------------------------------


def class_counts_figure(train_counts, test_counts) -> go.Figure:
    """Images per digit in the training and the test set, side by side."""
    fig = go.Figure()
    for split, counts, color in (("train", train_counts, BLUE), ("test", test_counts, RED)):
        fig.add_trace(go.Bar(x=DIGITS, y=counts, name=split, marker_color=color))
    fig.update_layout(
        height=320,
        barmode="group",
        margin=dict(l=10, r=10, t=10, b=10),
        xaxis=dict(title="digit", dtick=1),
        yaxis=dict(title="images"),
        legend=dict(orientation="h", y=-0.2),
    )
    return fig


def intensity_figure(counts) -> go.Figure:
    """How many pixels have each intensity 0..255, on a log axis (most are background)."""
    fig = go.Figure(go.Bar(x=list(range(len(counts))), y=counts, marker_color=BLUE))
    fig.update_layout(
        height=320,
        margin=dict(l=10, r=10, t=10, b=10),
        xaxis=dict(title="intensity (0 = background)"),
        yaxis=dict(title="pixels (log)", type="log"),
    )
    return fig
