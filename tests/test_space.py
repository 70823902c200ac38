"""Tests of archc.space: the Keras Tuner space, exact counting, enumeration, description."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from archc import space
from archc.graph import build_graph, templates_dir
from archc.hyper import holds

FIRE = """
block fire(s, e) {
  sq = conv2d(s, 1, activation=relu) as squeeze
  concat(sq -> conv2d(e, 1, activation=relu), sq -> conv2d(e, 3, padding=same, activation=relu))
}
"""

# name -> (template text, expected count worked out by hand)
TEMPLATES = {
    # per repetition: 2 (bypass) * 3 (se: off, or on with 2 ratios) -> 1..3 reps: 6 + 36 + 216
    "optional_in_repeat": ("""
        template optional_in_repeat
        input image [32, 32, 3]
        graph {
          image -> repeat group: 1..3 {
              conv2d(16, 3, padding=same)
              -> residual? bypass { conv2d(16, 3, padding=same) }
              -> optional use_se { dense(choice(4, 8)) }
            }
          -> flatten
        }
        """, 6 + 36 + 216),
    # se: 1 + 2 (skip) * 3 (ratio) = 7; eca: 1 + 2 = 3; none: 1; then a dropout choice of 2
    "choice_nested_optionals": ("""
        template choice_nested_optionals
        input image [32, 32, 3]
        graph {
          image -> conv2d(8, 3)
          -> choice attention {
               se: optional use_se { residual? skip { dense(choice(2, 4, 8)) } }
             | eca: conv2d(8, 1) -> optional deep { conv2d(8, choice(3, 5), padding=same) }
             | none
             }
          -> dropout(choice(0.0, 0.5)) -> flatten
        }
        """, (7 + 3 + 1) * 2),
    # width is named and shared by every repetition; act is shared by two places
    "named_shared": ("""
        template named_shared
        input image [32, 32, 3]
        hp width = choice(8, 16, 32)
        hp act = choice(relu, swish)
        graph {
          image -> repeat n: 1..2 { conv2d(width, 3, padding=same, activation=act) }
          -> conv2d(width, 1, activation=act) -> flatten
        }
        """, 2 * 3 * 2),
    # an if on one hp: k in {2, 3} adds a layer with its own choice
    "hp_if": ("""
        template hp_if
        input image [32, 32, 3]
        hp k = choice(1, 2, 3)
        graph {
          image -> conv2d(8, k, padding=same)
          -> if k > 1 { conv2d(8, choice(1, 3), padding=same) } else { optional extra { relu } }
          -> flatten
        }
        """, 2 + 2 * 2),
    # L(0) = 1, L(d) = 2 * (1 + L(d - 1)): depth 0..3 gives 1 + 4 + 10 + 22
    "recursive_depth": ("""
        template recursive_depth
        input image [32, 32, 3]
        hp depth = int(0, 3, default=1)
        block level(d) {
          if d == 0 { conv2d(8, 3, padding=same) }
          else { conv2d(8, choice(1, 3), padding=same) -> optional { level(d - 1) } }
        }
        graph { image -> level(depth) -> flatten }
        """, 1 + 4 + 10 + 22),
    # merge point (4 stages) * op (2) * group1 (2) * group2 (3)
    "merge": (FIRE + """
        template merge_points
        input image [32, 32, 3]
        input depth [32, 32, 1]
        graph {
          merge merge_point (image, depth) by choice(add, concat) {
            conv2d(96, 3, strides=2) as conv1
            -> repeat group1: 1..2 { fire(16, 64) }
            -> max_pool2d(2) as pool
            -> repeat group2: 0..2 { fire(32, 128) }
          }
          -> conv2d(10, 1) -> global_avg_pool2d -> softmax
        }
        """, 4 * 2 * 2 * 3),
    # shared named hps used only under conditions (their joined condition is "always")
    "shared_conditional": ("""
        template shared_conditional
        input image [32, 32, 3]
        hp ratio = choice(8, 16)
        hp width = int(1, 3)
        graph {
          image -> conv2d(16, 3)
          -> repeat g: 1..2 {
               optional use_se { dense(ratio) -> if ratio > 8 { dense(choice(1, 2)) } }
             }
          -> repeat n: 0..2 { optional extra { dense(width) } }
          -> flatten
        }
        """, None),
    # tuple-valued choices, a stepped float, a log-sampled int, training settings
    "odd_values": ("""
        template odd_values
        input image [32, 32, 3]
        graph {
          image -> conv2d(8, choice((3, 3), (5, 5)))
          -> dropout(float(0.1, 0.7, step=0.1, default=0.3))
          -> dense(int(8, 16, sampling=log)) -> dropout(float(0.0, 0.5, step=0.25)) -> flatten
        }
        train { optimizer = choice(sgd(momentum=0.9), rmsprop); learning_rate = choice(1e-3, 1e-4) }
        """, 2 * 7 * 9 * 3 * 2 * 2),
}


def _write(tmp_path, name: str, text: str):
    path = tmp_path / f"{name}.arch"
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture(params=sorted(TEMPLATES))
def case(request, tmp_path):
    text, expected = TEMPLATES[request.param]
    return build_graph(_write(tmp_path, request.param, text)), expected


def _brute_count(template) -> int:
    seen = set()
    for a in space.enumerate_configurations(template):
        key = tuple(sorted(a.items()))
        assert key not in seen
        seen.add(key)
    return len(seen)


def _active_names(template, assignment: dict) -> set:
    return {s.name for s in template.hyperparameters if holds(s.condition, assignment)}


# ---- counting


def test_count_equals_brute_force(case):
    template, expected = case
    count = space.count_configurations(template)
    assert count == _brute_count(template)
    if expected is not None:
        assert count == expected


def test_enumerated_assignments_are_exactly_the_active_ones(case):
    template, _ = case
    for a in space.enumerate_configurations(template, limit=500):
        assert set(a) == _active_names(template, a)
        for spec in template.hyperparameters:
            if spec.name in a:
                assert a[spec.name] in space.values_of(spec)


def test_enumeration_limit(case):
    template, _ = case
    assert len(list(space.enumerate_configurations(template, limit=5))) == min(
        5, space.count_configurations(template))
    assert list(space.enumerate_configurations(template, limit=0)) == []


def test_large_space_is_counted_exactly_and_fast(tmp_path):
    text = """
        template big
        input image [32, 32, 3]
        graph {
          image -> repeat n: 0..30 {
              conv2d(8, choice(1, 3, 5), padding=same)
              -> optional use_se { residual? skip { dense(choice(2, 4, 8)) } }
            }
          -> dropout(float(0.0, 0.5, step=0.1)) -> flatten
        }
        """
    template = build_graph(_write(tmp_path, "big", text))
    per_rep = 3 * (1 + 2 * 3)
    assert len(template.hyperparameters) > 100
    assert space.count_configurations(template) == sum(per_rep ** k for k in range(31)) * 6
    assert space.count_configurations(template) > 10 ** 20


def test_continuous_float_gives_none(tmp_path):
    text = """
        template cont
        input image [32, 32, 3]
        graph { image -> optional drop { dropout(float(0.0, 0.5)) } -> flatten }
        train { learning_rate = float(1e-4, 1e-2, sampling=log) }
        """
    template = build_graph(_write(tmp_path, "cont", text))
    assert space.count_configurations(template) is None
    assert space.describe(template)["configurations"] is None
    assert space.format_table(space.describe(template)).endswith(
        "infinitely many (continuous floats)")
    with pytest.raises(ValueError, match="continuous"):
        list(space.enumerate_configurations(template))
    for seed in range(20):
        a = space.sample(template, seed)
        assert 1e-4 <= a["learning_rate"] <= 1e-2
        assert set(a) == _active_names(template, a)


def test_no_hyperparameters_is_one_configuration(tmp_path):
    text = "template fixed\ninput image [8, 8, 3]\ngraph { image -> conv2d(4, 3) -> flatten }\n"
    template = build_graph(_write(tmp_path, "fixed", text))
    assert space.count_configurations(template) == 1
    assert list(space.enumerate_configurations(template)) == [{}]
    assert space.default_values(template) == {}


# ---- Keras Tuner


@pytest.fixture(scope="module")
def kt():
    return pytest.importorskip("keras_tuner")


def test_declare_space_conditions_agree_with_holds(case, kt):
    template, _ = case
    hp = space.declare_space(template)
    assert [h.name for h in hp.space] == [s.name for s in template.hyperparameters]
    assignments = list(space.enumerate_configurations(template, limit=300))
    assignments += [space.sample(template, seed) for seed in range(100)]
    for a in assignments:
        hp.values = space.to_kt(template, a)
        for spec in template.hyperparameters:
            assert hp.is_active(spec.name) == holds(spec.condition, a), (spec.name, a)


def test_keras_tuner_samples_valid_assignments(case, kt):
    """Keras Tuner's own sampler, run over the declared space, gives active sets and values
    that the template allows (so its trials never differ only in inactive hps)."""
    template, _ = case
    hp = space.declare_space(template)
    for _ in range(100):
        trial = hp.copy()
        trial.values = {}
        trial.ensure_active_values()
        a = space.from_kt(template, trial.values)
        assert set(a) == _active_names(template, a)
        for spec in template.hyperparameters:
            if spec.name in a:
                assert a[spec.name] in space.values_of(spec), (spec.name, a[spec.name])


def test_declare_space_defaults_and_given_hp(case, kt):
    template, _ = case
    hp = space.declare_space(template)
    assert space.from_kt(template, hp.values) == space.default_values(template)
    given = kt.HyperParameters()
    assert space.declare_space(template, given) is given
    # declaring into a trial's object keeps the trial's values
    a = space.sample(template, 7)
    trial = kt.HyperParameters()
    trial.values = space.to_kt(template, a)
    space.declare_space(template, trial)
    assert space.from_kt(template, {k: v for k, v in trial.values.items() if k in a}) == a


def test_kt_types_and_sampling_names(tmp_path, kt):
    template = build_graph(_write(tmp_path, "odd_values", TEMPLATES["odd_values"][0]))
    hp = space.declare_space(template)
    kinds = {h.name: type(h).__name__ for h in hp.space}
    assert kinds["conv2d/kernel_size"] == "Choice"  # tuples, held as string labels
    assert kinds["dense/units"] == "Int"
    assert hp.space[[h.name for h in hp.space].index("dense/units")].sampling == "log"
    assert kinds["dropout_1/rate"] == "Float"  # 0, 0.25, 0.5: Keras Tuner's steps are exact
    assert kinds["dropout/rate"] == "Choice"  # 0.1 steps: Keras Tuner's would be inexact
    assert hp.values["conv2d/kernel_size"] == "(3, 3)"
    assert space.from_kt(template, hp.values)["conv2d/kernel_size"] == (3, 3)
    assert hp.values["dropout/rate"] == 0.3


def test_module_does_not_import_keras_tuner():
    code = ("import sys, archc.space; "
            "assert not {'keras_tuner', 'keras', 'tensorflow'} & set(sys.modules), sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


# ---- defaults and sampling


def test_defaults_are_valid(case):
    template, _ = case
    d = space.default_values(template)
    assert set(d) == _active_names(template, d)
    for spec in template.hyperparameters:
        if spec.name in d:
            assert d[spec.name] == spec.default
            assert d[spec.name] in space.values_of(spec)


def test_sampling_is_deterministic_and_valid(case):
    template, _ = case
    draws = [space.sample(template, seed) for seed in range(50)]
    assert draws == [space.sample(template, seed) for seed in range(50)]
    everything = [tuple(sorted(a.items())) for a in space.enumerate_configurations(template)]
    for a in draws:
        assert tuple(sorted(a.items())) in everything
    if len(everything) > 10:
        assert len({tuple(sorted(a.items())) for a in draws}) > 1


# ---- description


def test_describe_is_json_and_complete(case):
    template, _ = case
    d = space.describe(template)
    assert json.loads(json.dumps(d)) == d
    assert set(d) == {"hyperparameters", "configurations"}
    assert d["configurations"] == space.count_configurations(template)
    assert [h["name"] for h in d["hyperparameters"]] == [s.name for s in template.hyperparameters]
    for h, spec in zip(d["hyperparameters"], template.hyperparameters, strict=True):
        keys = {"name", "kind", "default", "condition", "active_when"}
        keys |= {"values"} if spec.kind in ("choice", "bool") else {"min", "max", "step",
                                                                    "sampling"}
        assert set(h) == keys
        assert [c["hp"] for c in h["active_when"]] == [c.hp for c in spec.condition]
        assert (h["condition"] == "always") == (not spec.condition)


def test_describe_values(tmp_path):
    template = build_graph(_write(tmp_path, "odd", TEMPLATES["odd_values"][0]))
    hps = {h["name"]: h for h in space.describe(template)["hyperparameters"]}
    assert hps["conv2d/kernel_size"]["values"] == [[3, 3], [5, 5]]
    assert hps["dense/units"] == {
        "name": "dense/units", "kind": "int", "min": 8, "max": 16, "step": 1, "sampling": "log",
        "default": 8, "condition": "always", "active_when": []}
    template = build_graph(_write(tmp_path, "sq", TEMPLATES["optional_in_repeat"][0]))
    hps = {h["name"]: h for h in space.describe(template)["hyperparameters"]}
    h = hps["group/rep1/dense/units"]
    assert h["condition"] == "group in {2, 3} and group/rep1/use_se = true"
    assert h["active_when"] == [{"hp": "group", "values": [2, 3]},
                                {"hp": "group/rep1/use_se", "values": [True]}]
    assert hps["group/rep1/use_se"]["values"] == [False, True]


def test_format_table(tmp_path):
    template = build_graph(_write(tmp_path, "sq", TEMPLATES["optional_in_repeat"][0]))
    lines = space.format_table(space.describe(template)).splitlines()
    assert lines[0].split() == ["NAME", "KIND", "VALUES/RANGE", "DEFAULT", "ACTIVE", "WHEN"]
    assert lines[-1] == "258 distinct configurations"
    start = lines[0].index("ACTIVE WHEN")
    assert any(line[start:] == "group in {2, 3} and group/rep1/use_se = true" for line in lines)
    assert any(line.split()[:4] == ["group", "int", "1..3", "step"] for line in lines)
    assert len(lines) == len(template.hyperparameters) + 2


def test_format_table_thousands():
    d = {"hyperparameters": [], "configurations": 4518648288}
    assert space.format_table(d).splitlines()[-1] == "4,518,648,288 distinct configurations"


# ---- the bundled templates


def _bundled(name: str):
    return build_graph(templates_dir() / f"{name}.arch")


def test_squeezenet_auto_count_matches_enumeration():
    template = _bundled("squeezenet_auto")
    # group1: 1..2 pairs, a bypass per pair: 2 + 4; group2: 0..2 pairs: 1 + 2 + 4;
    # two pooling choices, dropout (3), optimizer (2), learning rate (2)
    assert space.count_configurations(template) == _brute_count(template) == 6 * 7 * 2 * 2 * 3 * 4


def test_squeezenet_se_auto_count():
    template = _bundled("squeezenet_se_auto")
    fire_se = 1 + 2 * 3  # no SE, or SE with or without its skip and 3 ratios
    pair = fire_se * 2 * fire_se  # two fire modules and the bypass
    expected = (pair + pair ** 2) * (1 + pair + pair ** 2) * 2 * 2 * 3 * 2 * 2
    assert space.count_configurations(template) == expected
    # the space is too large to enumerate: check a prefix is made of distinct, valid points
    prefix = list(space.enumerate_configurations(template, limit=2000))
    assert len({tuple(sorted(a.items())) for a in prefix}) == 2000
    for a in prefix[::97]:
        assert set(a) == _active_names(template, a)


def test_kt_conditions_are_the_template_conditions(case, kt):
    """Every declared hp carries its condition's clauses, outermost first -- also where nested
    `conditional_scope`s cannot express it (a shared hp's parent declared under other scopes)."""
    template, _ = case
    hp = space.declare_space(template)
    specs = {s.name: s for s in template.hyperparameters}
    for h in hp.space:
        want = [(c.hp, [space.kt_value(specs[c.hp], v) for v in c.values])
                for c in specs[h.name].condition]
        assert [(c.name, list(c.values)) for c in h.conditions] == want


def test_fallback_for_conditions_scopes_cannot_express(tmp_path, kt):
    template = build_graph(_write(tmp_path, "sc", TEMPLATES["shared_conditional"][0]))
    spec = next(s for s in template.hyperparameters if s.name == "g/rep0/dense_1/units")
    assert [c.hp for c in spec.condition] == ["g/rep0/use_se", "ratio"]  # ratio: unconditional
    hp = space.declare_space(template)
    assert "g/rep0/dense_1/units" not in hp.values
    hp.values.update({"g/rep0/use_se": True, "ratio": 16})
    assert hp.is_active("g/rep0/dense_1/units")
