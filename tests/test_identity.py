"""identity.py: the canonical hash of an architecture, and the distinct architectures of a
space, checked against brute force (graph isomorphism of every pair)."""

from __future__ import annotations

import networkx as nx
import pytest

import archc
from archc.identity import _args, identity, survey
from archc.space import enumerate_configurations

EQUIVALENT = """
template equivalent
input image [8, 8, 1]
graph {
  image -> conv2d(4, 3, padding=same) as stem
  -> optional extra { conv2d(choice(4, 8), 3, padding=same) -> identity }
  -> repeat more: 0..1 { conv2d(4, 1) }
  -> choice head { a: identity | b: conv2d(4, 1, padding=valid) }
  -> global_avg_pool2d -> dense(3, activation=softmax)
}
train { optimizer = choice(adam, sgd) }
"""


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    path = tmp_path_factory.mktemp("identity") / "equivalent.arch"
    path.write_text(EQUIVALENT)
    return archc.load(path)


def _contracted(arch) -> nx.DiGraph:
    """The concrete graph without identity layers, labelled for an isomorphism test."""
    g = nx.DiGraph()
    source = {}
    for n in nx.topological_sort(arch.graph):
        d = arch.graph.nodes[n]
        if d["op"] == "identity":
            source[n] = source[d["inputs"][0]]
            continue
        source[n] = n
        g.add_node(n, label=(d["op"], repr(sorted(_args(d).items())), d["shape"]))
        for slot, u in enumerate(d["inputs"]):
            g.add_edge(source[u], n, slot=slot)
    return g


def _same(a, b) -> bool:
    return a.train == b.train and nx.is_isomorphic(
        _contracted(a), _contracted(b), node_match=lambda x, y: x["label"] == y["label"],
        edge_match=lambda x, y: x["slot"] == y["slot"])


def _brute_force(template) -> int:
    classes: list = []
    for values in enumerate_configurations(template):
        arch = template.resolve(values)
        if not any(_same(arch, c) for c in classes):
            classes.append(arch)
    return len(classes)


def test_inactive_hp_identity_layer_and_off_structures_do_not_change_the_hash(template):
    off = identity(template.resolve({"extra": False, "more": 0, "head": "a"}))
    # an hp inside an optional that is off
    assert off == identity(template.resolve({"extra": False, "conv2d/filters": 8}))
    # conv2d(4, 1) from a repeat of 1 is conv2d(4, 1, padding=valid) from the choice
    assert (identity(template.resolve({"more": 1, "head": "a"}))
            == identity(template.resolve({"more": 0, "head": "b"})))
    assert off != identity(template.resolve({"extra": True}))
    assert off != identity(template.resolve({"optimizer": "sgd"}))


def test_node_names_do_not_change_the_hash(tmp_path):
    one = tmp_path / "one.arch"
    one.write_text("template one\ninput x [4]\ngraph { x -> dense(2) as a -> dense(3) }\n")
    two = tmp_path / "two.arch"
    two.write_text("template two\ninput x [4]\n"
                   "graph { x -> dense(2, use_bias=true) as b -> identity -> dense(3) as c }\n")
    assert identity(archc.load(one).resolve()) == identity(archc.load(two).resolve())


def test_distinct_count_equals_brute_force(template):
    found = survey(template)
    assert found.exact and found.configurations == 24
    assert found.distinct == _brute_force(template) == 18


@pytest.mark.parametrize("name", ["squeezenet", "squeezenet11"])
def test_distinct_count_of_small_bundled_spaces(name):
    t = archc.load(name)
    assert survey(t).distinct == _brute_force(t)


def test_cost_range_over_the_space(template):
    found = survey(template)
    costs = [template.resolve(v).params for v in enumerate_configurations(template)]
    assert found.ranges["params"] == (min(costs), max(costs))


def test_a_large_space_is_an_upper_bound_with_sampled_ranges():
    found = survey(archc.load("squeezenet_se_auto"), samples=5)
    assert not found.exact and found.distinct == found.configurations
    low, high = found.ranges["params"]
    assert 0 < low <= high


# ---------------------------------------------------------------- feasibility and lint

WIDE_RESIDUAL = """
template wide_residual
input image [8, 8, 16]
graph {
  image -> residual { conv2d(int(16, 1000), 3, padding=same) }
  -> choice head { a: global_avg_pool2d | b: global_avg_pool2d }
  -> dense(choice(3), activation=softmax)
}
"""


@pytest.fixture(scope="module")
def wide(tmp_path_factory):
    path = tmp_path_factory.mktemp("wide") / "wide.arch"
    path.write_text(WIDE_RESIDUAL)
    return path


def test_feasible_count_is_exact_where_the_space_is_enumerated(wide):
    found = survey(archc.load(wide))
    assert found.exact and found.configurations == 985 * 2
    assert found.feasible == 2 and found.infeasible == 985 * 2 - 2  # only 16 filters add up
    assert found.inert == ["head"]                      # the same layer either way


def test_feasible_count_is_estimated_with_its_interval_on_a_larger_space(wide):
    found = survey(archc.load(wide), limit=100, samples=200)
    assert not found.exact and found.samples == 200
    low, high = found.feasible_interval
    assert low <= 1 / 985 <= high and high < 0.03              # Wilson: sound near 0 hits
    hits = found.samples - found.infeasible
    assert found.feasible == pytest.approx(hits / 200 * found.configurations)


def test_space_and_check_warn_on_single_options_and_inert_hyperparameters(wide):
    import json
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "archc", "space", str(wide), "--enumerate",
                          "2000"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "2 of 1,970 configurations feasible and within budget (exact)" in run.stdout
    assert f"{wide}:7:12: warning: choice 'dense/units' has one option, 3" in run.stderr
    assert f"{wide}:6:6: warning: hyperparameter 'head' changes nothing" in run.stderr
    assert "'dense/units' changes nothing" not in run.stderr         # said once, above
    check = subprocess.run([sys.executable, "-m", "archc", "check", "--json", str(wide)],
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0
    warnings = json.loads(check.stdout)["files"][0]["warnings"]
    assert [(w["line"], w["column"]) for w in warnings] == [(7, 12)]
