"""freeze.py and `archc freeze`: a chosen architecture written as a template with no
hyperparameters compiles to the same network (layer types, output shapes, parameters,
arguments and training settings: the same identity)."""

from __future__ import annotations

import random

import networkx as nx
import pytest

import archc
from archc.cli import main
from archc.freeze import freeze
from archc.identity import identity
from archc.pipeline import choose

BUNDLED = ["mlp_auto", "mobilenetv2", "mobilenetv2_ssd_auto", "squeezenet", "squeezenet11",
           "squeezenet_auto", "squeezenet_se1_auto", "squeezenet_se_auto", "squeezenet_sem_auto",
           "unet", "unet_auto"]


def _layers(arch) -> list[tuple]:
    g = arch.graph
    return [(g.nodes[n]["op"], g.nodes[n]["shape"], g.nodes[n]["params"])
            for n in nx.topological_sort(g)]


def _round_trip(template, seed, tmp_path):
    try:
        arch = choose(template, {}, seed)
    except archc.diagnostics.ArchError:
        pytest.skip("no feasible sample")
    text = freeze(arch)
    path = tmp_path / f"{template.name}_{seed}.arch"
    path.write_text(text)
    frozen = archc.load(path)
    assert frozen.hyperparameters == []
    again = frozen.resolve()
    assert sorted(_layers(again)) == sorted(_layers(arch))
    assert again.params == arch.params and again.flops == arch.flops
    assert identity(again) == identity(arch)


@pytest.mark.parametrize("name", BUNDLED)
def test_freeze_round_trips_two_samples(name, tmp_path):
    template = archc.load(name)
    for seed in random.Random(name).sample(range(10_000), 2):
        _round_trip(template, seed, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", BUNDLED)
def test_freeze_round_trips_twenty_samples(name, tmp_path):
    template = archc.load(name)
    for seed in range(20):
        _round_trip(template, seed, tmp_path)


def test_tied_weights_are_written_as_a_shared_repeat(tmp_path):
    template = archc.load("mobilenetv2_ssd_auto")
    arch = template.resolve({"rep_B5_3": 3})
    text = freeze(arch)
    assert "-> repeat 3 shared { tied_" in text and "block tied_1() {" in text
    path = tmp_path / "tied.arch"
    path.write_text(text)
    again = archc.load(path).resolve()
    assert again.params == arch.params and identity(again) == identity(arch)
    tied = [n for n, d in again.graph.nodes(data=True) if d["shares"]]
    assert len(tied) == len([n for n, d in arch.graph.nodes(data=True) if d["shares"]])


def test_freeze_a_template_at_set_values(tmp_path, capsys):
    out = tmp_path / "chosen.arch"
    assert main(["freeze", "squeezenet_auto", "--set", "group1=2", "--set", "classes=3",
                 "-o", str(out)]) == 0
    want = archc.load("squeezenet_auto", params={"classes": 3}).resolve({"group1": 2})
    assert archc.load(out).resolve().params == want.params
    assert "hp " not in out.read_text() and "choice" not in out.read_text()


def test_freeze_a_trial_needs_results(tmp_path, capsys):
    assert main(["freeze", str(tmp_path), "3"]) == 1
    assert "has no results.json" in capsys.readouterr().err


def test_a_trial_of_a_search_is_frozen(tmp_path, capsys):
    from tests.test_report import write_results  # a results directory without training

    template = archc.load("squeezenet_se_auto", params={"classes": 3})
    results = write_results(tmp_path / "run", template, params={"classes": 3})
    trial = results["trials"][1]
    out = tmp_path / "chosen.arch"
    assert main(["freeze", str(tmp_path / "run"), trial["trial_id"], "-o", str(out)]) == 0
    assert archc.load(out).resolve().params == trial["params"]


def test_the_frozen_template_builds_the_same_keras_model(tmp_path):
    from archc.lower import lower

    template = archc.load("squeezenet_se_auto", params={"classes": 10})
    arch = choose(template, {}, 7)
    path = tmp_path / "frozen.arch"
    path.write_text(freeze(arch))
    want, got = lower(arch, compile=False), lower(archc.load(path).resolve(), compile=False)

    def layers(model):
        return sorted((type(layer).__name__, str(layer.output.shape)) for layer in model.layers)

    assert layers(got) == layers(want)
    assert got.count_params() == want.count_params()
