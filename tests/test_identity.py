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
