"""Every op against Keras on random calls: a random op with random arguments on an input of
random rank is either rejected by `archc check` (at a source position) or built and run by
Keras, with the output shape and parameter count that archc inferred (issue 10, item 7)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archc import arguments, factories, ops, pipeline
from archc.diagnostics import ArchError, ArchErrors

keras = pytest.importorskip("keras")

# Ops whose inputs are not one tensor of a free rank (ssd_decode needs class logits, box
# offsets and feature maps that agree on their anchor count: tests/test_ops.py covers it), and
# keras_layer, which check leaves to Keras by design (tests/test_keras_layer.py).
SKIPPED = {"ssd_decode", "keras_layer"}
RANDOM_OPS = [name for name in ops.names() if name not in SKIPPED]
NATURAL_RANKS = {"bidirectional": 2}  # (steps, features), like the recurrent ops it wraps


def _show(value) -> str:
    """A value as `.arch` text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        return f"{value[0]}(" + ", ".join(f"{k}={_show(v)}" for k, v in value[1]) + ")"
    if isinstance(value, tuple):
        return "(" + ", ".join(map(_show, value)) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, list):
        return "[" + ", ".join(map(_show, value)) + "]"
    return repr(value)


def _ints(a: arguments.ArgSpec, high: int = 4) -> st.SearchStrategy:
    low = 0 if a.minimum is None else int(a.minimum)
    return st.integers(low, max(low, high))


def _floats(a: arguments.ArgSpec) -> st.SearchStrategy:
    low = -1.0 if a.minimum is None else float(a.minimum)
    high = 2.0 if a.maximum is None else float(a.maximum)
    return st.sampled_from(sorted({low, high, (low + high) / 2, low + (high - low) / 10}))


def _value(a: arguments.ArgSpec) -> st.SearchStrategy:
    """Values of `a`'s type, mostly valid, some out of its range (check must locate those)."""
    kind = a.type
    if kind == "int":
        return _ints(a)
    if kind == "float":
        return _floats(a)
    if kind == "bool":
        return st.booleans()
    if kind in ("str", "activation"):
        return st.sampled_from(a.choices[:6]) if a.choices else st.just("x")
    if kind == "int_or_pair":
        return _ints(a, 3) | st.tuples(_ints(a, 3), _ints(a, 3))
    if kind == "int_or_triple":
        return _ints(a, 3) | st.tuples(_ints(a, 3), _ints(a, 3), _ints(a, 3))
    if kind == "float_or_pair":
        return _floats(a) | st.tuples(_floats(a), _floats(a))
    if kind == "padding_spec":
        return _ints(a, 2) | st.tuples(_ints(a, 2), _ints(a, 2))
    if kind == "shape":
        return st.lists(st.sampled_from([-1, 1, 2, 4, 8]), min_size=1, max_size=3)
    if kind == "axis":
        return st.integers(-4, 4)
    if kind == "layer":  # a recurrent op call, or another op (check must refuse it)
        return st.tuples(st.sampled_from([*a.choices, "dense"]),
                         st.tuples(st.tuples(st.just("units"), st.integers(0, 3))),
                         ) | st.tuples(st.sampled_from(a.choices), st.just(
                             (("units", 2), ("return_sequences", True))))
    return st.just(a.default)


@st.composite
def op_calls(draw, names=RANDOM_OPS):
    """(op name, keyword arguments, input shape): required arguments always, others sometimes."""
    spec = ops.lookup(draw(st.sampled_from(names)))
    kwargs = {}
    for a in spec.args:
        if a.type == "any" and not a.required:
            continue
        if a.required or draw(st.booleans()):
            kwargs[a.name] = draw(_value(a))
    # a spatial rule's (steps or H, W) + channels; (H, W, C) for the others
    natural = NATURAL_RANKS.get(spec.name, getattr(spec.shape, "rank", 2) + 1)
    rank = draw(st.just(natural) | st.integers(1, 4))
    shape = tuple(draw(st.lists(st.integers(1, 9), min_size=rank, max_size=rank)))
    return spec.name, kwargs, shape


def _template(name: str, kwargs: dict, shape: tuple, merge: bool) -> str:
    args = ", ".join(f"{k}={_show(v)}" for k, v in kwargs.items())
    dims = ", ".join(map(str, shape))
    if merge:
        call = f"a -> {name}(b{', ' + args if args else ''})"
        inputs = f"input a [{dims}]\ninput b [{dims}]"
    else:
        call = f"a -> {name}({args})"
        inputs = f"input a [{dims}]"
    return f"template t\n{inputs}\ngraph {{\n  {call}\n}}\n"


def _check(text: str):
    """The template's default architecture, or the located error `archc check` gives."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t.arch"
        path.write_text(text)
        try:
            template = pipeline.load(path)
            pipeline.check_defaults(template)
        except ArchErrors as exc:
            return exc.errors[0]
        except ArchError as exc:
            return exc
        return template.resolve()


def _keras_output(spec: ops.OpSpec, kwargs: dict, shape: tuple):
    """Keras's layer and its output on zeros of `shape` (a batch of one), run eagerly."""
    layer = factories.build_layer(spec, kwargs)
    data = np.zeros((1, *shape), dtype="float32")
    out = layer([data, data] if spec.inputs != 1 else data)
    return layer, out


def assert_check_or_keras(name: str, kwargs: dict, shape: tuple) -> None:
    spec = ops.lookup(name)
    checked = _check(_template(name, kwargs, shape, spec.inputs != 1))
    if isinstance(checked, ArchError):
        assert checked.pos is not None, f"{name}{kwargs} on {shape}: {checked.message}"
        return
    (node,) = [n for n in checked.layers()]
    data = checked.graph.nodes[node]
    try:
        layer, out = _keras_output(spec, data["args"], shape)
    except Exception as exc:  # noqa: BLE001 - any failure of Keras is the finding
        pytest.fail(f"check passed {name}({kwargs}) on {shape}, Keras failed: {exc}")
    assert tuple(out.shape[1:]) == data["shape"], f"{name}({kwargs}) on {shape}"
    assert layer.count_params() == data["params"], f"{name}({kwargs}) on {shape}"


_QUICK = settings(max_examples=40, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow])


@_QUICK
@given(op_calls())
def test_check_rejects_with_a_location_or_keras_builds(call):
    assert_check_or_keras(*call)


@pytest.mark.slow
@pytest.mark.parametrize("name", RANDOM_OPS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_op_check_rejects_or_keras_builds(name, data):
    assert_check_or_keras(*data.draw(op_calls([name])))


@pytest.mark.parametrize(("name", "kwargs", "shape", "message"), [
    ("spatial_dropout2d", {"rate": 0.5}, (4, 4), "expects an input of rank 3"),
    ("conv2d", {"filters": 2, "kernel_size": 3, "strides": 2, "dilation_rate": 2}, (9, 9, 2),
     "strides > 1 together with dilation_rate > 1"),
    ("conv1d", {"filters": 2, "kernel_size": 3, "strides": 2, "dilation_rate": 2}, (9, 2),
     "strides > 1 together with dilation_rate > 1"),
    ("conv2d_transpose", {"filters": 2, "kernel_size": 3, "strides": 2, "dilation_rate": 2},
     (9, 9, 2), "strides > 1 together with dilation_rate > 1"),
    ("softmax", {"axis": 5}, (4,), "axis 5 is not an axis of a rank-1 input"),
])
def test_issue_cases_are_rejected_where_written(name, kwargs, shape, message):
    fault = _check(_template(name, kwargs, shape, False))
    assert isinstance(fault, ArchError)
    assert message in fault.message
    assert (fault.pos.line, fault.pos.column) == (4, 8)


SEARCHED = """template t
input image [12, 12, 3]
graph {
  image -> conv2d(4, 3, strides=choice(1, 2), dilation_rate=choice(1, 2)) -> flatten -> dense(2)
}
"""


def test_the_search_rejects_each_candidate_keras_would_refuse(tmp_path):
    """The search's pre-check (`ArchHyperModel.candidate`) runs the same rules for every
    candidate: strides 2 with dilation 2 is rejected before a model is built."""
    from archc.hypermodel import Rejected

    path = tmp_path / "t.arch"
    path.write_text(SEARCHED)
    template = pipeline.load(path)
    pipeline.check_defaults(template)
    hypermodel, hp = template.hypermodel(), template.space()
    hp.values.update({"conv2d/strides": 2, "conv2d/dilation_rate": 1})
    assert hypermodel.candidate(hp).params == 3 * 3 * 3 * 4 + 4 + 5 * 5 * 4 * 2 + 2
    hp.values.update({"conv2d/dilation_rate": 2})
    with pytest.raises(Rejected, match="strides > 1 together with dilation_rate > 1"):
        hypermodel.candidate(hp)
