"""The bundled templates against the paper: hyperparameter names and value sets (read from
`archc space NAME --json`), the training settings of Table 1, the structure the text describes
(merge points, UNet-Auto's blocks), and, for random points of every space, a model that
compiles, runs a forward pass and learns: one training step on a tiny batch lowers the loss on
that batch."""

from __future__ import annotations

import contextlib
import functools
import json
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import keras
import networkx as nx
import numpy as np
import pytest

import archc
from archc.diagnostics import ShapeMismatch
from archc.graph import templates_dir
from archc.lower import lower
from archc.space import sample

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = sorted(p.stem for p in templates_dir().glob("*.arch"))
SQUEEZENETS = ("squeezenet", "squeezenet11", "squeezenet_auto", "squeezenet_se_auto",
               "squeezenet_se1_auto", "squeezenet_sem_auto")
# Detection trains against the SSD head's anchors and loss; the SSD tests train that template.
TRAINED = [name for name in TEMPLATES if name != "mobilenetv2_ssd_auto"]
# Smaller inputs keep the training tests affordable; the spaces do not depend on them.
SMALL_INPUTS = {name: {"image": (64, 64, 3)}
                for name in ("squeezenet", "squeezenet11", "mobilenetv2", "unet", "unet_auto")}


@functools.cache
def space(name: str) -> dict[str, dict]:
    """`archc space NAME --json`, hyperparameter name -> its description."""
    done = subprocess.run([sys.executable, "-m", "archc", "space", name, "--json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return {hp["name"]: hp for hp in json.loads(done.stdout)["hyperparameters"]}


def values(hp: dict) -> list:
    """Every value of one described hyperparameter (a range written out)."""
    if "values" in hp:
        return hp["values"]
    return list(range(hp["min"], hp["max"] + 1, hp["step"]))


def value_sets(name: str) -> dict[str, list]:
    return {hp: values(desc) for hp, desc in space(name).items()}


# ---------------------------------------------------------------- the paper's spaces

BOOL = [False, True]
# Table 1: learning rate 0.001 or 0.0001, SGD or RMSprop.
TABLE1 = {"optimizer": ["sgd", "rmsprop"], "learning_rate": [1e-3, 1e-4]}
# Fig. 6b: two dashed groups of fire-module pairs; rep1 exists when a group holds two pairs.
PAIRS = [f"{group}/rep{k}" for group in ("group1", "group2") for k in (0, 1)]
FIRES = [f"{pair}/{module}" for pair in PAIRS for module in ("first", "second")]
SQUEEZENET_AUTO = {
    "group1": [1, 2], "group2": [0, 1, 2],
    **{f"{pair}/bypass": BOOL for pair in PAIRS},
    "pool1": ["max", "avg"], "pool2": ["max", "avg"],
    "dropout/rate": [0, 0.5, 0.8],
    **TABLE1,
}
# Fig. 8: per fire module an optional SE block (ratio 8, 16 or 32) with an optional skip.
SE = {**{f"{fire}/use_se": BOOL for fire in FIRES},
      **{f"{fire}/se_skip": BOOL for fire in FIRES},
      **{f"{fire}/se/ratio": [8, 16, 32] for fire in FIRES}}
# Fig. 10: one merge point, at any boundary between the stages before the classifier.
MERGE_POINTS = ["stem", "group1", "pool1", "group2", "pool2"]
# Table 6's MLPAuto: 4..10 dense layers of 16..512 units (read as steps of 16).
MLP = {"layers": list(range(4, 11)),
       **{f"layers/rep{k}/dense/units": list(range(16, 513, 16)) for k in range(10)},
       **TABLE1}
UNET_AUTO = ("start_depth", "levels", "down_layers", "up1_layers", "up2_layers",
             "bottom_layers", "dropout_rate", "optimizer", "learning_rate")
SSD_REPLICAS = ("rep_B3_3", "rep_B4_3", "rep_B5_3", "rep_B6_3")

EXPECTED_SPACES = {
    "squeezenet": TABLE1,          # Table 2 searches the baselines' training settings too
    "squeezenet11": TABLE1,
    "mobilenetv2": {},
    "unet": {},
    "squeezenet_auto": SQUEEZENET_AUTO,
    "squeezenet_se_auto": {**SQUEEZENET_AUTO, **SE},
    "squeezenet_se1_auto": {**SQUEEZENET_AUTO, **SE},
    "squeezenet_sem_auto": {"merge_after": MERGE_POINTS, **SQUEEZENET_AUTO, **SE},
    "mlp_auto": MLP,
}


@pytest.mark.parametrize("name", sorted(EXPECTED_SPACES))
def test_space_names_and_values_are_the_papers(name):
    assert value_sets(name) == EXPECTED_SPACES[name]


@pytest.mark.parametrize("name", ["squeezenet_se_auto", "squeezenet_se1_auto",
                                  "squeezenet_sem_auto"])
def test_se_ratio_and_skip_exist_only_with_their_se_block(name):
    for fire in FIRES:
        for setting in ("se_skip", "se/ratio"):
            clauses = space(name)[f"{fire}/{setting}"]["active_when"]
            assert {"hp": f"{fire}/use_se", "values": [True]} in clauses


@pytest.mark.parametrize("name", ["squeezenet_auto", "squeezenet_se_auto"])
def test_a_pair_exists_only_when_its_group_holds_it(name):
    active = {hp: desc["active_when"] for hp, desc in space(name).items()}
    assert active["group1/rep0/bypass"] == []
    assert active["group1/rep1/bypass"] == [{"hp": "group1", "values": [2]}]
    assert active["group2/rep0/bypass"] == [{"hp": "group2", "values": [1, 2]}]
    assert active["group2/rep1/bypass"] == [{"hp": "group2", "values": [2]}]


def test_squeezenet_auto_at_defaults_has_table_7s_size():
    """SqueezeNetAuto on the 8 Tsinghua expressions: 123,880 parameters in the paper (one pair
    in each group, fire2..fire5, as every search of Table 3 found: the defaults)."""
    assert archc.load("squeezenet_auto", params={"classes": 8}).cost()["params"] == 123_880


def test_mlp_auto_reads_landmarks_and_stacks_its_layers():
    template = archc.load("mlp_auto")
    assert template.inputs == {"landmarks": (468, 3)}
    for k in range(4, 10):
        assert space("mlp_auto")[f"layers/rep{k}/dense/units"]["active_when"] == \
            [{"hp": "layers", "values": list(range(k + 1, 11))}]
    for n in (4, 10):
        arch = template.resolve({"layers": n})
        assert ops(arch)["dense"] == n + 1  # the hidden layers and the classifier


def test_unet_auto_has_table_11s_hyperparameters():
    assert tuple(space("unet_auto")) == UNET_AUTO
    assert set(TABLE1["learning_rate"]) <= set(values(space("unet_auto")["learning_rate"]))


def test_unet_auto_at_defaults_is_the_classic_unet():
    defaults = {hp: desc["default"] for hp, desc in space("unet_auto").items()
                if hp not in TABLE1}
    assert defaults == {"start_depth": 64, "levels": 4, "down_layers": 2, "up1_layers": 1,
                        "up2_layers": 2, "bottom_layers": 2, "dropout_rate": 0}
    assert archc.load("unet_auto").cost()["params"] == 31_031_745
    assert layer_multiset(archc.load("unet_auto").resolve()) == \
        layer_multiset(archc.load("unet").resolve())


def test_unet_auto_blocks_have_their_layer_counts():
    """Part 1 of an up block is the up-convolution and up1_layers - 1 convolutions before the
    skip joins; part 2 the up2_layers convolutions after it."""
    choice = {"start_depth": 16, "levels": 3, "down_layers": 1, "up1_layers": 2,
              "up2_layers": 3, "bottom_layers": 1, "dropout_rate": 0.2}
    arch = archc.load("unet_auto", inputs={"image": (64, 64, 3)}).resolve(choice)
    count = ops(arch)
    levels = choice["levels"]
    assert count["conv2d_transpose"] == count["concat"] == count["max_pool2d"] == levels
    assert count["dropout"] == 1
    assert count["conv2d"] == (levels * choice["down_layers"] + choice["bottom_layers"]
                               + levels * (choice["up1_layers"] - 1 + choice["up2_layers"])
                               + 1)  # the 1x1 mask
    g = arch.graph
    for concat in (n for n in g if g.nodes[n]["op"] == "concat"):
        up, skip = g.nodes[concat]["inputs"]
        assert chain_ops(g, up, stop="conv2d_transpose") == ["conv2d"] * (choice["up1_layers"] - 1)
        assert g.nodes[skip]["op"] == "conv2d"
    filters = [g.nodes[n]["shape"][-1] for n in arch.layers() if g.nodes[n]["op"] == "conv2d"]
    assert filters[0] == 16 and max(filters) == 16 * 2 ** levels  # the bottom block


def test_mobilenetv2_ssd_auto_replicates_four_blocks():
    described = space("mobilenetv2_ssd_auto")
    assert set(described) - {"optimizer", "learning_rate"} == set(SSD_REPLICAS)
    for rep in SSD_REPLICAS:
        assert values(described[rep]) == [1, 2, 3] and described[rep]["default"] == 1
    # "we vary the learning rate parameters in the same way as in the previous experiment"
    assert values(described["learning_rate"]) == values(space("unet_auto")["learning_rate"])


# ---------------------------------------------------------------- two inputs, one merge


def merge_point(arch) -> str:
    """The node where the paths of the inputs first meet (the only such node)."""
    g = arch.graph
    common = set.intersection(*({i} | nx.descendants(g, i) for i in arch.inputs))
    first = [n for n in common if not any(p in common for p in g.predecessors(n))]
    assert len(first) == 1, first
    return first[0]


def branches(arch, merge: str) -> list[set]:
    """Each input's own nodes before the merge."""
    g = arch.graph
    return [({i} | nx.descendants(g, i)) & nx.ancestors(g, merge) for i in arch.inputs]


def assert_one_path_after(arch, merge: str) -> None:
    own = branches(arch, merge)
    assert not set.intersection(*own)
    assert set(arch.graph) == set.union(*own) | {merge} | nx.descendants(arch.graph, merge)


def test_se1_adds_image_and_depth_after_their_own_conv1_and_pool():
    arch = archc.load("squeezenet_se1_auto").resolve()
    assert list(arch.inputs) == ["image", "depth"]
    merge = merge_point(arch)
    assert arch.graph.nodes[merge]["op"] == "add"
    assert [sorted_ops(arch.graph, b) for b in branches(arch, merge)] == \
        [["input", "conv2d", "max_pool2d"]] * 2
    assert_one_path_after(arch, merge)


def test_sem_merges_at_every_stage_boundary():
    template = archc.load("squeezenet_sem_auto")
    sizes = []
    for point in MERGE_POINTS:
        arch = template.resolve({"merge_after": point})
        merge = merge_point(arch)
        assert arch.graph.nodes[merge]["op"] == "add"
        image, depth = (sorted_ops(arch.graph, b) for b in branches(arch, merge))
        assert image == depth  # each input runs its own copy of the stages
        assert_one_path_after(arch, merge)
        sizes.append(len(image))
    assert sizes == sorted(set(sizes))  # each later point merges later


def test_sem_merging_after_the_stem_is_se1():
    sem = archc.load("squeezenet_sem_auto").resolve({"merge_after": "stem"})
    se1 = archc.load("squeezenet_se1_auto").resolve()
    assert layer_multiset(sem) == layer_multiset(se1)


# ---------------------------------------------------------------- training settings


@pytest.mark.parametrize("name", [*SQUEEZENETS, "mlp_auto"])
def test_table1_training_settings(name):
    """Table 1: batch size 32, at most 100 epochs; SGD's momentum is ours (0.9: the paper
    gives none, and plain SGD barely learns in a search's few epochs)."""
    template = archc.load(name)
    assert template.train["batch_size"] == 32
    assert template.train["epochs"] == 100
    assert template.train["loss"] == "categorical_crossentropy"
    assert template.resolve({"optimizer": "sgd"}).options["sgd"] == {"momentum": 0.9}


@pytest.mark.parametrize("name", ["unet", "unet_auto"])
def test_unet_trains_150_epochs_on_masks(name):
    template = archc.load(name)
    assert template.train["epochs"] == 150
    assert template.train["loss"] == "binary_crossentropy"


# ---------------------------------------------------------------- random samples learn


def tiny_batch(arch, seed: int, size: int = 4):
    """Random inputs and matching targets: one-hot classes, or a binary mask whose foreground
    is a quarter of the pixels (as in a real mask; a 50 % mask of noise gives a one-pixel
    output layer almost no gradient to follow)."""
    rng = np.random.default_rng(seed)
    dtype = keras.config.floatx()
    x = {name: rng.random((size, *shape)).astype(dtype) for name, shape in arch.inputs.items()}
    if len(x) == 1:
        (x,) = x.values()  # Keras warns when one input comes as a dict
    (out,) = arch.outputs.values()
    shape = arch.graph.nodes[out]["shape"]
    loss = arch.train["loss"]
    if loss == "binary_crossentropy":
        y = (rng.random((size, *shape)) < 0.25).astype(dtype)
    else:
        assert loss == "categorical_crossentropy", loss
        y = np.eye(shape[-1], dtype=dtype)[rng.integers(0, shape[-1], size)]
    return x, y


def check_one_step_learns(arch, seed: int) -> bool:
    """Compile with the sampled optimizer and learning rate, run a forward pass, take ONE
    training step, and require a lower loss on the same batch (both in inference mode).

    No tolerance and no extra steps. The caller runs the model in float64: on a network whose
    signal is faint at initialisation (deep stacks of fire and SE modules under Keras's
    Glorot initialisation), SGD at 1e-4 lowers the loss by ~1e-7, one float32 ulp at 2.3, and
    its weight updates can fall below a float32 weight's ulp: in float32 such a step is
    rounded away, not measured.

    One fallback, because a single step of the sampled settings need not descend: with
    dropout it follows the gradient of a random sub-network (at rate 0.8, a fifth of conv10's
    inputs), not of the loss measured; and the first step of RMSprop or Adam moves every
    weight by about the learning rate (3.2x it for Keras's RMSprop) whatever its gradient,
    which on a faint network can overshoot or switch off every conv10 ReLU. Where the step
    does not lower the loss, it is retaken from the same weights as plain SGD at the sampled
    learning rate with the dropout layers' rate at 0 -- a small step along the gradient of
    exactly the loss measured -- which must lower it. The caller bounds how often; in the
    50-draw sweep it served 5 of 308 draws, all in the SE templates (RMSprop, or dropout 0.8).

    Returns:
        Whether the step was retaken.
    """
    before, after = one_step(arch, seed)
    retaken = not after < before
    if retaken:
        before, after = one_step(arch, seed, plain=True)
    assert after < before, f"{arch.choices}: loss {before} -> {after} after one step"
    return retaken


def one_step(arch, seed: int, plain: bool = False) -> tuple[float, float]:
    """The loss on a tiny batch before and after one training step of the template's
    optimizer, or with `plain`, of SGD without momentum or dropout."""
    keras.utils.set_random_seed(seed)
    model = lower(arch)
    assert type(model.optimizer).__name__.lower() == arch.train["optimizer"]
    assert float(model.optimizer.learning_rate) == pytest.approx(arch.train["learning_rate"])
    if plain:
        for layer in model.layers:
            if isinstance(layer, keras.layers.Dropout):
                layer.rate = 0.0
        sgd = keras.optimizers.SGD(learning_rate=arch.train["learning_rate"])
        model.compile(optimizer=sgd, loss=model.loss)
    model.run_eagerly = True  # the same arithmetic; tracing would cost more than a batch of 4
    x, y = tiny_batch(arch, seed)
    out = np.asarray(model(x, training=False))
    assert out.shape == y.shape and np.isfinite(out).all()
    before = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    model.train_on_batch(x, y)
    after = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    return before, after


def check_samples_learn(name: str, draws: int, seed: int) -> None:
    """`draws` random points of the space; each distinct assignment is checked once (the
    reference networks have 1 to 4), infeasible ones are counted and may be at most half, and
    the fallback of `check_one_step_learns` may serve at most a tenth (or one)."""
    template = archc.load(name, inputs=SMALL_INPUTS.get(name))
    rng, seen, infeasible, retaken = random.Random(seed), set(), 0, 0
    for k in range(draws):
        values = sample(template, rng.randrange(2**31))
        key = json.dumps(values, sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        try:
            arch = template.resolve(values)
        except ShapeMismatch:
            infeasible += 1
            continue
        with float64():
            retaken += check_one_step_learns(arch, seed=k)
        keras.backend.clear_session()
    assert 2 * infeasible <= len(seen), f"{infeasible} of {len(seen)} samples are infeasible"
    assert retaken <= max(1, len(seen) // 10), f"{retaken} of {len(seen)} steps retaken"


@contextlib.contextmanager
def float64():
    """Keras layers built inside are float64."""
    previous = keras.config.floatx()
    keras.config.set_floatx("float64")
    try:
        yield
    finally:
        keras.config.set_floatx(previous)


@pytest.mark.parametrize("name", TRAINED)
def test_random_samples_learn(name):
    check_samples_learn(name, draws=3, seed=1)


@pytest.mark.slow
@pytest.mark.parametrize("name", TRAINED)
def test_fifty_random_samples_learn(name):
    check_samples_learn(name, draws=50, seed=2)


# ---------------------------------------------------------------- helpers


def ops(arch) -> Counter:
    return Counter(d["op"] for _, d in arch.graph.nodes(data=True))


def sorted_ops(g, nodes) -> list[str]:
    return [g.nodes[n]["op"] for n in nx.topological_sort(g.subgraph(nodes))]


def chain_ops(g, node: str, stop: str) -> list[str]:
    """The ops walking back from `node` along first inputs until an op `stop` (excluded)."""
    out = []
    while g.nodes[node]["op"] != stop:
        out.append(g.nodes[node]["op"])
        node = g.nodes[node]["inputs"][0]
    return out[::-1]


def layer_multiset(arch) -> Counter:
    """The layers as (op, output shape, parameters), names aside."""
    return Counter((d["op"], d["shape"], d["params"]) for _, d in arch.graph.nodes(data=True))
