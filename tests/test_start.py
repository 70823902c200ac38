"""`--start-from`: a search's first trial is the template's baseline or an earlier search's
trial, and the search goes on as usual from there."""

from __future__ import annotations

import json

import pytest

import archc
from archc.cli import main
from archc.diagnostics import ArchError
from archc.search import Settings, search
from archc.space import default_values

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # keras_tuner's threading

# 8 configurations; the defaults (width 8, no extra layer) are not what seed 3 draws first.
SMALL = """
template small
param classes = 10
input image [8, 8, 1]
graph {
  image -> flatten -> dense(choice(16, 8, default=8), activation=relu)
  -> optional extra { dense(choice(16, 32), activation=relu) }
  -> dense(classes, activation=softmax)
}
train { optimizer = adam; learning_rate = choice(1e-2, 1e-3); batch_size = 64;
        loss = categorical_crossentropy; metrics = [accuracy] }
"""


@pytest.fixture
def small(tmp_path):
    path = tmp_path / "small.arch"
    path.write_text(SMALL, encoding="utf-8")
    return path


def run(small, directory, trials: int, seed: int = 3, **options) -> dict:
    settings = Settings(trials=trials, epochs=1, seed=seed, keep=0, stop_early="never",
                        **options)
    return search(str(small), "digits", directory, settings, log=lambda line: None)


def first_choices(results: dict) -> dict:
    return min(results["trials"], key=lambda t: int(t["trial_id"]))["choices"]


def test_start_from_defaults_trains_the_baseline_first(small, tmp_path):
    template = archc.load(small)
    plain = first_choices(run(small, tmp_path / "plain", 1))
    assert plain != default_values(template)  # the test would prove nothing otherwise
    seeded = run(small, tmp_path / "seeded", 2, start_from="defaults")
    assert first_choices(seeded) == default_values(template)
    assert len({json.dumps(t["choices"], sort_keys=True) for t in seeded["trials"]}) == 2


def test_start_from_an_earlier_search_takes_its_best_or_a_named_trial(small, tmp_path):
    earlier = run(small, tmp_path / "earlier", 3)
    best = max(earlier["trials"], key=lambda t: t["score"])
    plain = first_choices(run(small, tmp_path / "plain", 1, seed=5))
    seeded = run(small, tmp_path / "a", 1, seed=5, start_from=str(tmp_path / "earlier"))
    assert plain != best["choices"] and first_choices(seeded) == best["choices"]
    other = next(t for t in earlier["trials"]
                 if t["choices"] not in (best["choices"], plain))
    named = f"{tmp_path / 'earlier'}:{int(other['trial_id'])}"
    assert first_choices(run(small, tmp_path / "b", 1, seed=5,
                             start_from=named)) == other["choices"]


def test_a_resumed_search_is_not_seeded_again(small, tmp_path):
    first = run(small, tmp_path / "d", 1, start_from="defaults")
    resumed = run(small, tmp_path / "d", 2, start_from="defaults", extend=True)
    assert resumed["trials"][0] == first["trials"][0]
    assert first_choices({"trials": resumed["trials"][1:]}) != first_choices(first)


def test_a_bad_start_is_a_clear_error(small, tmp_path, capsys):
    run(small, tmp_path / "earlier", 1)
    with pytest.raises(ArchError, match="no trial '9'"):
        run(small, tmp_path / "e", 1, start_from=f"{tmp_path / 'earlier'}:9")
    code = main(["search", str(small), "--dir", str(tmp_path / "f"), "--trials", "1",
                 "--epochs", "1", "--start-from", str(tmp_path / "missing")])
    assert code == 1
    assert "missing" in capsys.readouterr().err
