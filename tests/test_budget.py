"""Budgets: `constraint` in a template, `Template.constrained`, and the search's rejection of
over-budget candidates inside the oracle (`search/candidates.py`), before any model."""

from __future__ import annotations

import keras_tuner as kt
import pytest

import archc
from archc.diagnostics import ArchErrors
from archc.hypermodel import Rejected
from archc.pipeline import check_defaults
from archc.resolve import OverBudget
from archc.search import SearchError
from archc.search.candidates import admit_candidates
from archc.space import sample

BUDGETED = """
template budgeted
param budget = 1000
input image [8, 8, 1]
constraint params <= budget
constraint flops < 1e6
graph {
  image -> flatten -> dense(choice(8, 16, 64), activation=relu) -> dense(10, activation=softmax)
}
"""


@pytest.fixture
def path(tmp_path):
    p = tmp_path / "budgeted.arch"
    p.write_text(BUDGETED)
    return p


def test_a_constraint_is_honoured_by_resolve_at_its_position(path):
    t = archc.load(path)
    assert t.resolve({"dense/units": 8}).params == 8 * 65 + 90
    with pytest.raises(OverBudget, match=r"1,210 params breaks the constraint \(params <= 1,000"):
        t.resolve({"dense/units": 16})
    try:
        t.resolve({"dense/units": 64})
    except OverBudget as exc:
        assert exc.pos.line == 5


def test_a_param_sets_the_limit_and_the_defaults_must_keep_it(path):
    assert archc.load(path, {"budget": 2000}).resolve({"dense/units": 16}).params == 1210
    with pytest.raises(OverBudget) as info:
        check_defaults(archc.load(path, {"budget": 10}))
    assert info.value.message.startswith("at the defaults, over budget: 610 params")


@pytest.mark.parametrize("line, message", [
    ("constraint weights <= 3", "expected a cost (params, bytes, flops"),
    ("constraint params >= 3", "expected <= or < in a constraint, found '>='"),
    ("constraint params <= 0", "expected a positive number as a constraint's limit"),
])
def test_a_bad_constraint_is_a_located_error(tmp_path, line, message):
    p = tmp_path / "bad.arch"
    p.write_text(BUDGETED.replace("constraint flops < 1e6", line))
    with pytest.raises(ArchErrors, match=message.replace("(", r"\(")) as info:
        archc.load(p)
    assert info.value.errors[0].pos.line == 6


def test_constrained_adds_budgets_that_survive_reconfigure():
    t = archc.load("squeezenet_auto", params={"classes": 10}).constrained(params=2e5)
    small = t.reconfigure(params={"classes": 5})
    assert [c.cost for c in small.constraints] == ["params"]
    samples = [sample(small, seed) for seed in range(30)]
    feasible = [v for v in samples if _feasible(small, v)]
    assert 0 < len(feasible) < len(samples)
    assert all(small.resolve(v).params <= 2e5 for v in feasible)
    with pytest.raises(ValueError, match="expected budgets among"):
        t.constrained(weights=3)


def _feasible(template, values) -> bool:
    try:
        template.resolve(values)
    except archc.diagnostics.ArchError:
        return False
    return True


def _oracle(template, seed=1):
    hypermodel = template.hypermodel()
    oracle = kt.oracles.RandomSearchOracle(objective="val_accuracy", max_trials=5, seed=seed)
    hp = kt.HyperParameters()
    hypermodel.declare_hyperparameters(hp)
    oracle.hyperparameters = hp
    return oracle, hypermodel


def test_the_oracle_proposes_only_candidates_within_budget(path):
    template = archc.load(path)
    oracle, hypermodel = _oracle(template)
    rejected = []
    admit_candidates(oracle, hypermodel.candidate, lambda v, why: rejected.append(why))
    proposals = [oracle.populate_space(str(i)) for i in range(3)]
    units = {p["values"]["dense/units"] for p in proposals if p["status"] == "RUNNING"}
    assert units == {8}  # the only one in budget; the rest become STOPPED, not trials
    assert rejected and all(r.startswith("over budget") for r in rejected)


def test_a_space_wholly_over_budget_is_a_clear_error(path):
    template = archc.load(path).constrained(params=100)
    with pytest.raises(OverBudget):
        template.resolve()
    oracle, hypermodel = _oracle(template)
    admit_candidates(oracle, hypermodel.candidate)
    with pytest.raises(SearchError, match="every candidate was rejected"):
        oracle.populate_space("0")
    with pytest.raises(Rejected):
        hp = kt.HyperParameters()
        hypermodel.declare_hyperparameters(hp)
        hypermodel.candidate(hp)
