"""A run's panel: other networks that read the answers its own network is unsure of."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from recognizer.reading.recognizer import PANEL_FILE, Recognizer, load_recognizer
from recognizer.reading.views import VIEWS, scores_with_views, views


def _fixed(answer: np.ndarray):
    """A scoring function that gives every image the same raw scores."""
    return lambda x: np.tile(answer, (len(x), 1)).astype(np.float32)


def test_an_unsure_answer_is_the_mean_of_every_networks_views_and_a_sure_one_is_left_alone():
    x = np.zeros((2, 28, 28, 1), np.float32)
    x[:, 6:22, 12:16] = 1.0
    sure, unsure = np.eye(10)[3], np.full(10, 0.1)

    def own(batch):  # sure of the first image, unsure of every other view and image
        out = np.tile(unsure, (len(batch), 1))
        if len(batch) == 2:
            out[0] = sure
        return out.astype(np.float32)

    member = _fixed(np.eye(10)[7])
    scores = scores_with_views(own, x, panel=(member,))
    np.testing.assert_allclose(scores[0], sure)  # sure: the panel is not asked
    own_views = (unsure * len(VIEWS)) / len(VIEWS)
    np.testing.assert_allclose(scores[1], (own_views + np.eye(10)[7]) / 2, atol=1e-6)
    assert scores[1].argmax() == 7


def test_each_member_reads_the_same_views_as_the_network():
    x = np.random.default_rng(0).random((3, 28, 28, 1)).astype(np.float32)
    seen = []

    def member(batch):
        seen.append(batch.copy())
        return np.full((len(batch), 10), 0.1, np.float32)

    scores_with_views(_fixed(np.full(10, 0.1)), x, panel=(member,))
    (batch,) = seen
    expected = views(x[..., 0]).reshape(-1, 28, 28, 1)  # view-major, the image itself first
    np.testing.assert_allclose(batch, expected, atol=1e-6)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_run):
    """Runs side by side: ``main`` (the tiny trained LeNet-5), ``other`` (an untrained one) and
    ``eleven`` (one with the class "not one digit"). Each test writes the panel file it needs."""
    import keras

    from recognizer.nets.architectures import build_model

    tmp_path = tmp_path_factory.mktemp("panel-runs")
    main = tmp_path / "main"
    shutil.copytree(tiny_run, main)
    for name, classes in (("other", 10), ("eleven", 11)):
        (tmp_path / name).mkdir()
        keras.utils.set_random_seed(1)
        build_model("lenet5", classes).save(tmp_path / name / "model.keras")
    return tmp_path


def _panel(run_dir, content) -> None:
    (run_dir / PANEL_FILE).write_text(content if isinstance(content, str) else json.dumps(content))


def test_a_run_reads_with_the_members_its_panel_file_names(runs, mnist):
    _panel(runs / "main", {"members": ["other"]})
    rec = load_recognizer(runs / "main", number_reader=False, panel=True)
    alone = load_recognizer(runs / "main", number_reader=False)
    assert [m.name for m in rec.panel] == ["other"] and alone.panel == ()
    x = mnist[1][0][:200]
    # The tiny run is unsure of most digits: a threshold at its median confidence splits them.
    below = float(np.median(alone.predict_proba(x, views=False).max(axis=1)))
    rec = Recognizer(rec.model, rec.run_dir, views_below=below, panel=rec.panel)
    alone = Recognizer(alone.model, alone.run_dir, views_below=below)
    with_panel, without = rec.predict_proba(x), alone.predict_proba(x)
    unsure = alone.predict_proba(x, views=False).max(axis=1) < below
    assert unsure.any() and (~unsure).any()
    np.testing.assert_allclose(with_panel[~unsure], without[~unsure], atol=1e-6)
    assert not np.allclose(with_panel[unsure], without[unsure], atol=1e-3)


@pytest.mark.parametrize(
    "content",
    [
        {"members": ["missing"]},  # no such run
        {"members": ["eleven"]},  # another number of classes
        {"members": ["../main", "/etc", ".hidden", 3]},  # only plain run names beside it
        {"members": "other"},
        "not json {",
    ],
)
def test_a_panel_member_that_cannot_serve_is_left_out_and_the_run_still_answers(runs, content, mnist):
    _panel(runs / "main", content)
    rec = load_recognizer(runs / "main", number_reader=False, panel=True)
    assert rec.panel == ()
    assert rec.predict_proba(mnist[1][0][:5]).shape == (5, 10)


def test_a_taught_recognizer_keeps_the_panel(runs, mnist):
    _panel(runs / "main", {"members": ["other"]})
    rec = load_recognizer(runs / "main", number_reader=False, panel=True)
    taught = rec.adapt(mnist[1][0][:2], [1, 2])
    assert taught.panel is rec.panel


def test_the_shipped_model_has_a_panel_to_offer_and_the_app_reads_without_it():
    from recognizer.core.runs import shipped_active_dir

    named = json.loads((shipped_active_dir() / PANEL_FILE).read_text())["members"]
    rec = load_recognizer(shipped_active_dir(), number_reader=False, panel=True)
    assert [m.name for m in rec.panel] == named and len(named) == 2  # every member is shipped and fits
    assert load_recognizer(shipped_active_dir(), number_reader=False).panel == ()


def test_evaluate_reads_with_the_panel_when_asked_and_never_stores_it(runs, capsys, mnist, run_cli):
    _panel(runs / "main", {"members": ["other"]})
    assert run_cli("evaluate", ["--model", str(runs / "main"), "--panel"]) == 0
    assert "unsure answers read with the panel: other" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        run_cli("evaluate", ["--model", str(runs / "main"), "--holdout", "--write-metrics", "--panel"])
