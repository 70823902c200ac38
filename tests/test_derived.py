"""Derived values (docs/language.md, "Derived values"): `let`, `param` computed from hps,
`a if c else b`, `make_divisible` and `def` functions stay static: the space, its counts and
every architecture's cost are exact. Costs come from `resolve` (no Keras)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import archc
from archc import space
from archc.diagnostics import ArchErrors
from archc.values import make_divisible


def load(tmp_path, text: str, **params):
    path = tmp_path / "t.arch"
    path.write_text(textwrap.dedent(text))
    return archc.load(path, params=params or None)


def conv_params(cin: int, cout: int, k: int = 1) -> int:
    return k * k * cin * cout + cout


SCALED = """
    template scaled
    hp width = choice(0.5, 1.0, 1.5)
    param stem = make_divisible(32 * width, 8)
    def scale(c, divisor = 8) = make_divisible(c * width, divisor)
    let head = max(64, scale(100))
    input image [16, 16, 3]
    graph {
      image -> conv2d(stem, 1)
      -> repeat i in 2 {
           let f = scale(16 * (i + 1))
           conv2d(f, 1, strides = 2 if i == 0 else 1)
         }
      -> conv2d(head, 1) -> global_avg_pool2d -> dense(10)
    }
    """


@pytest.mark.parametrize("width", [0.5, 1.0, 1.5])
def test_let_param_and_def_give_the_exact_cost(tmp_path, width):
    template = load(tmp_path, SCALED)
    stem = make_divisible(32 * width, 8)
    f1, f2 = make_divisible(16 * width, 8), make_divisible(32 * width, 8)
    head = max(64, make_divisible(100 * width, 8))
    expected = (conv_params(3, stem) + conv_params(stem, f1) + conv_params(f1, f2)
                + conv_params(f2, head) + conv_params(head, 10))
    arch = template.resolve({"width": width})
    assert arch.cost()["params"] == expected
    shapes = {n: d["shape"] for n, d in arch.graph.nodes(data=True) if "shape" in d}
    assert shapes["repeat/rep0/conv2d"][:2] == (8, 8)  # strides 2 on the first repetition only
    assert shapes["repeat/rep1/conv2d"][:2] == (8, 8)


def test_derived_values_make_no_hyperparameters(tmp_path):
    template = load(tmp_path, SCALED)
    assert [h.name for h in template.hyperparameters] == ["width"]
    assert space.count_configurations(template) == 3


def test_a_derived_param_may_be_set_to_a_constant(tmp_path):
    template = load(tmp_path, SCALED, stem=24)
    arch = template.resolve({"width": 1.5})
    assert arch.graph.nodes["conv2d"]["shape"][-1] == 24


def test_a_let_reads_its_hps_where_it_is_used(tmp_path):
    """`width` is read only inside the optional, through the let: it is active only there."""
    template = load(tmp_path, """
        hp width = choice(16, 32)
        let w2 = width * 2
        input image [8, 8, 3]
        graph { image -> optional extra { conv2d(w2, 1) } -> flatten -> dense(10) }
        """)
    width = template.hp("width")
    assert [(c.hp, tuple(c.values)) for c in width.condition] == [("extra", (True,))]
    assert space.count_configurations(template) == 3


def test_a_conditional_on_an_hp_narrows_the_hps_of_its_branches(tmp_path):
    template = load(tmp_path, """
        hp deep = bool()
        input x [8]
        graph { x -> dense(choice(8, 16) if deep else 4) -> dense(2) }
        """)
    units = template.hp("dense/units")
    assert [(c.hp, tuple(c.values)) for c in units.condition] == [("deep", (True,))]
    assert space.count_configurations(template) == 3
    assert template.cost({"deep": False})["params"] == 8 * 4 + 4 + 4 * 2 + 2
    assert template.cost({"deep": True, "dense/units": 16})["params"] == 8 * 16 + 16 + 16 * 2 + 2


def test_a_condition_on_a_let_decides_structure(tmp_path):
    template = load(tmp_path, """
        hp width = choice(0.5, 1.0, 2.0)
        let wide = width > 1
        input x [8]
        graph { x -> if wide { dense(32) } else { dense(4) } -> dense(2) }
        """)
    assert template.cost({"width": 2.0})["params"] == 8 * 32 + 32 + 32 * 2 + 2
    assert template.cost({"width": 1.0})["params"] == 8 * 4 + 4 + 4 * 2 + 2


def test_a_recursive_function_ends_on_a_constant_conditional(tmp_path):
    template = load(tmp_path, """
        def fact(n) = 1 if n <= 1 else n * fact(n - 1)
        let units = fact(4)
        input x [8]
        graph { x -> dense(units) }
        """)
    assert template.cost()["params"] == 8 * 24 + 24


def test_a_let_in_a_block_sees_in_and_the_parameters(tmp_path):
    template = load(tmp_path, """
        block expand(ratio) {
          let hidden = in.channels * ratio
          conv2d(hidden, 1) -> conv2d(in.channels, 1)
        }
        input image [8, 8, 4]
        graph { image -> expand(3) -> flatten }
        """)
    assert template.cost()["params"] == conv_params(4, 12) + conv_params(12, 4)


def test_a_conditional_only_computes_its_branch(tmp_path):
    """A constant condition never evaluates the other branch (no division by zero)."""
    template = load(tmp_path, """
        param groups = 0
        input x [8]
        graph { x -> dense(4 if groups == 0 else 8 // groups) }
        """)
    assert template.cost()["params"] == 8 * 4 + 4


@pytest.mark.parametrize(("text", "message"), [
    ("input image [8, 8, 3]\nlet t = image\ngraph { image -> dense(t) }", "names a tensor"),
    ("def f(n) = f(n + 1)\ninput x [8]\ngraph { x -> dense(f(1)) }", "unbounded recursion"),
    ("def round(x) = x\ninput x [8]\ngraph { x -> dense(4) }", "already a builtin function"),
    ("input x [8]\ngraph { x -> dense(make_divisible(9, 8, step=2)) }", "no keyword argument"),
    ("def f(a, b) = a + b\ninput x [8]\ngraph { x -> dense(f(1)) }", "missing argument 'b'"),
    ("input x [8]\ngraph { x -> optional { let a = 1 } -> dense(2) }", "expected a chain"),
    ("hp w = choice(1, 2)\nlet f = w * 8\ninput x [8]\ngraph { x -> dense(f - 8) }",
     "expected a positive integer, found 0"),
])
def test_faults_in_derived_values_are_located(tmp_path, text, message):
    with pytest.raises(ArchErrors) as caught:
        load(tmp_path, text)
    assert any(message in e.message and e.pos is not None for e in caught.value.errors), \
        [e.message for e in caught.value.errors]


def test_the_documented_example_checks_and_has_the_documented_space(tmp_path):
    docs = (Path(__file__).resolve().parent.parent / "docs" / "language.md").read_text()
    section = docs.split("## Derived values")[1]
    example = section.split("```arch\n")[1].split("```")[0]
    template = load(tmp_path, example)
    assert [h.name for h in template.hyperparameters] == ["width", "depth"]
    assert space.count_configurations(template) == 6
    assert template.cost({"width": 0.5, "depth": 1.0})["params"] == 23_402
    assert template.cost({"width": 1.5, "depth": 2.0})["params"] == 278_986


def test_a_stride_on_the_first_repetition_only(tmp_path):
    """Issue 10, item 6: no `if i == 0 { ... } else { ... }` repeating the call."""
    template = load(tmp_path, """
        input image [32, 32, 8]
        graph {
          image -> repeat stages: i in 1..3 {
            conv2d(8, 3, strides = 2 if i == 0 else 1, padding=same)
          } -> flatten
        }
        """)
    arch = template.resolve({"stages": 3})
    sizes = [arch.graph.nodes[f"stages/rep{k}/conv2d"]["shape"] for k in range(3)]
    assert sizes == [(16, 16, 8)] * 3
    assert arch.cost()["params"] == 3 * (9 * 8 * 8 + 8)


@pytest.mark.parametrize(("call", "units"), [
    ("make_divisible(20, 16)", 32), ("make_divisible(20, divisor=16)", 32),
    ("make_divisible(3, 8, min_value=4)", 4), ("make_divisible(3, 8)", 8),
])
def test_make_divisible_takes_its_arguments_by_position_or_keyword(tmp_path, call, units):
    template = load(tmp_path, f"input x [2]\ngraph {{ x -> dense({call}) }}")
    assert template.cost()["params"] == 2 * units + units


def test_make_divisible_needs_its_divisor(tmp_path):
    with pytest.raises(ArchErrors) as caught:
        load(tmp_path, "input x [2]\ngraph { x -> dense(make_divisible(3, min_value=4)) }")
    assert any("missing argument 'divisor'" in e.message for e in caught.value.errors)
