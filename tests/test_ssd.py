"""SSD for mobilenetv2_ssd_auto (archc.ssd, the ssd_decode layer) and the MNIST-detection data
(archc.data.mnist_boxes): anchors, matching, encode/decode round trips, the loss, TensorFlow's
NMS, saving, the template's detections, random samples that learn, and training on the
paper's 600 / 100 images."""

from __future__ import annotations

import random
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

import archc
from archc import ssd
from archc.data.mnist_boxes import make_mnist_boxes, make_splits, source_digits
from archc.lower import lower
from archc.space import sample
from archc.ssd import SSDDecode

MAPS = [(6, 6), (3, 3), (2, 2), (1, 1), (1, 1), (1, 1)]  # mobilenetv2_ssd_auto at 96x96
EPOCHS = 4  # of the slow training test


@pytest.fixture(autouse=True)
def fresh_session():
    yield
    keras.backend.clear_session()


def random_boxes(rng, k: int, small: float = 0.05, large: float = 0.5) -> np.ndarray:
    size = rng.uniform(small, large, (k, 2))
    corner = rng.uniform(0, 1, (k, 2)) * (1 - size)
    return np.concatenate([corner, corner + size], axis=1).astype(np.float32)


# ---------------------------------------------------------------- anchors


def test_anchor_count_order_and_scales():
    anchors = ssd.make_anchors(MAPS)
    assert anchors.shape == (6 * (36 + 9 + 4 + 1 + 1 + 1), 4) == (312, 4)
    assert ssd.anchors_per_cell() == 6
    # the first cell of the finest map: centre (1/12, 1/12); ratio 1 at 0.2, then sqrt(0.2 s2)
    np.testing.assert_allclose(anchors[0], [1 / 12, 1 / 12, 0.2, 0.2], rtol=1e-6)
    s2 = 0.2 + 0.7 / 5
    np.testing.assert_allclose(anchors[1, 2:], [np.sqrt(0.2 * s2)] * 2, rtol=1e-6)
    np.testing.assert_allclose(anchors[2, 2:], [0.2 / np.sqrt(2), 0.2 * np.sqrt(2)], rtol=1e-6)
    np.testing.assert_allclose(anchors[6, :2], [1 / 12, 3 / 12], rtol=1e-6)  # next column
    # the last map (1x1): centred, scale s_max, its extra box sqrt(0.9 * 1.0)
    np.testing.assert_allclose(anchors[-6], [0.5, 0.5, 0.9, 0.9], rtol=1e-6)
    np.testing.assert_allclose(anchors[-5, 2:], [np.sqrt(0.9)] * 2, rtol=1e-6)
    np.testing.assert_allclose(ssd.scales(6)[:6], np.linspace(0.2, 0.9, 6))


def test_anchors_follow_the_architecture():
    template = archc.load("mobilenetv2_ssd_auto")
    arch = template.resolve({"rep_B5_3": 3})
    assert ssd.feature_maps_of(arch) == MAPS
    model = lower(arch, compile=False)
    np.testing.assert_array_equal(ssd.anchors_for(model), ssd.make_anchors(MAPS))
    np.testing.assert_array_equal(ssd.anchors_for(template), ssd.make_anchors(MAPS))
    bigger = archc.load("mobilenetv2_ssd_auto", inputs={"image": (224, 224, 3)})
    assert ssd.feature_maps_of(bigger) == [(14, 14), (7, 7), (4, 4), (2, 2), (1, 1), (1, 1)]
    assert len(ssd.anchors_for(bigger)) == bigger.resolve().graph.nodes["class_logits"][
        "shape"][0] == 1602


def test_anchor_count_must_match_the_heads():
    template = archc.load("mobilenetv2_ssd_auto", params={"anchors": 4})
    with pytest.raises(archc.diagnostics.ArchError, match="make 312 anchors, but the "
                                                          "predictions have 208 rows"):
        template.resolve()


# ---------------------------------------------------------------- matching and encoding


@pytest.mark.parametrize("seed", range(20))
def test_every_box_gets_an_anchor_and_the_round_trip_returns_it(seed):
    rng = np.random.default_rng(seed)
    anchors = ssd.make_anchors(MAPS)
    boxes = random_boxes(rng, int(rng.integers(1, 8)), small=0.02)
    labels = rng.integers(0, 10, len(boxes))
    matched = ssd.match(boxes, anchors)
    assert set(range(len(boxes))) <= set(matched[matched >= 0])
    classes, offsets = ssd.encode(boxes, labels, anchors)
    assert classes.dtype == np.int32 and offsets.dtype == np.float32
    np.testing.assert_array_equal(classes, np.where(matched >= 0, labels[matched] + 1, 0))
    decoded = ssd.decode(offsets, anchors)
    positive = matched >= 0
    np.testing.assert_allclose(decoded[positive], boxes[matched[positive]], atol=1e-5)
    # background anchors carry zero offsets: they decode to the anchors themselves
    np.testing.assert_allclose(decoded[~positive], ssd.to_corners(anchors[~positive]),
                               atol=1e-6)


def test_two_boxes_with_one_best_anchor_both_get_one():
    anchors = ssd.make_anchors([(1, 1)])  # six anchors, all centred
    boxes = np.array([[0.4, 0.4, 0.6, 0.6], [0.41, 0.41, 0.61, 0.61]], np.float32)
    matched = ssd.match(boxes, anchors, iou_threshold=0.99)
    assert sorted(matched[matched >= 0]) == [0, 1]


def test_threshold_matches_every_overlapping_anchor():
    anchors = ssd.make_anchors(MAPS)
    box = np.array([[0.3, 0.3, 0.7, 0.7]], np.float32)
    overlaps = ssd.iou(box, ssd.to_corners(anchors))[0]
    matched = ssd.match(box, anchors, iou_threshold=0.5)
    np.testing.assert_array_equal(matched >= 0, (overlaps >= 0.5) | (overlaps == overlaps.max()))


def test_no_boxes_is_all_background():
    classes, offsets = ssd.encode(np.zeros((0, 4)), np.zeros(0), ssd.make_anchors(MAPS))
    assert not classes.any() and not offsets.any()


def test_decode_of_tensors_matches_numpy():
    rng = np.random.default_rng(0)
    anchors = ssd.make_anchors(MAPS)
    offsets = rng.normal(size=(2, len(anchors), 4)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(ssd.decode(tf.constant(offsets), anchors)),
                               ssd.decode(offsets, anchors), rtol=1e-5, atol=1e-6)


def test_targets_for_a_batch():
    images, boxes, labels = make_mnist_boxes(5, seed=1)
    y = ssd.targets(boxes, labels, ssd.make_anchors(MAPS))
    assert y["classes"].shape == (5, 312) and y["boxes"].shape == (5, 312, 5)
    np.testing.assert_array_equal(y["boxes"][..., 4], (y["classes"] > 0).astype(np.float32))
    for row, lab in zip(y["classes"], labels, strict=True):
        assert set(row[row > 0] - 1) == set(lab)


# ---------------------------------------------------------------- the loss


def perfect_predictions(y, classes: int = 11):
    logits = 30.0 * np.eye(classes, dtype=np.float32)[y["classes"]]
    return logits, y["boxes"][..., :4].copy()


def losses(y, logits, offsets):
    conf = float(ssd.SSDConfidence()(y["classes"], logits))
    loc = float(ssd.SSDSmoothL1()(y["boxes"], offsets))
    return conf, loc


def test_loss_is_zero_for_perfect_predictions_and_larger_for_bad_ones():
    images, boxes, labels = make_mnist_boxes(8, seed=2)
    y = ssd.targets(boxes, labels, ssd.make_anchors(MAPS))
    logits, offsets = perfect_predictions(y)
    conf, loc = losses(y, logits, offsets)
    assert 0 <= conf < 1e-6 and loc == 0
    rng = np.random.default_rng(0)
    bad = losses(y, rng.normal(size=logits.shape).astype(np.float32),
                 offsets + rng.normal(size=offsets.shape).astype(np.float32))
    worse = losses(y, -logits, offsets + 5)
    assert all(np.isfinite(bad + worse))
    assert 1 < bad[0] < worse[0] and 0.1 < bad[1] < worse[1]


def test_hard_negative_mining_counts_three_negatives_per_positive():
    """Two images of 10 anchors: 1 and 2 positives. Each positive costs ln 2 (two classes,
    equal logits); negatives cost their own CE, ranked. The loss keeps 3 and 6 negatives."""
    y_true = np.zeros((2, 10), np.int32)
    y_true[0, 0] = 1
    y_true[1, :2] = 1
    logits = np.zeros((2, 10, 2), np.float32)
    logits[:, :, 1] = np.arange(10, dtype=np.float32) / 2   # negatives: rising loss
    logits[0, 0] = logits[1, :2] = 0.0                      # positives: ln 2 each
    ce = np.log1p(np.exp(logits[..., 1]))                   # CE of class 0 with logit 0
    hard = ce[0, 1:][np.argsort(-ce[0, 1:])][:3].sum() + ce[1, 2:][np.argsort(-ce[1, 2:])][:6].sum()
    want = (3 * np.log(2) + hard) / 3                       # by the batch's 3 positives
    got = float(ssd.SSDConfidence()(y_true, logits))
    np.testing.assert_allclose(got, want, rtol=1e-5)
    # without positives an image contributes nothing (SSD: negatives follow positives)
    assert float(ssd.SSDConfidence()(np.zeros((1, 10), np.int32), logits[:1])) == 0


def test_box_loss_is_smooth_l1_over_positives():
    y = np.zeros((1, 3, 5), np.float32)
    y[0, 0] = [0, 0, 0, 0, 1]
    y[0, 1] = [1, 1, 1, 1, 1]
    pred = np.zeros((1, 3, 4), np.float32)
    pred[0, 1] = [1.5, 1, 1, 4]       # |d| = 0.5 -> 0.125; |d| = 3 -> 2.5
    pred[0, 2] = [9, 9, 9, 9]         # background: ignored
    np.testing.assert_allclose(float(ssd.SSDSmoothL1()(y, pred)), (0.125 + 2.5) / 2)
    with pytest.raises(ValueError, match="positive flag"):
        ssd.SSDSmoothL1()(y[..., :4], pred)


def test_template_trains_with_the_ssd_losses():
    model = archc.load("mobilenetv2_ssd_auto").build()
    assert isinstance(model.loss["classes"], ssd.SSDConfidence)
    assert isinstance(model.loss["boxes"], ssd.SSDSmoothL1)
    assert model.loss["detections"] is None


# ---------------------------------------------------------------- decoding and NMS


def decoder_inputs(boxes, scores, anchors):
    """Offsets that decode exactly to `boxes` and logits whose softmax is `scores` (N, C+1)."""
    offsets = np.stack([ssd.encode(b[None], [0], a[None], iou_threshold=0)[1][0]
                        for b, a in zip(boxes, anchors, strict=True)])
    return np.log(np.asarray(scores, np.float32))[None], offsets[None]


def test_decode_layer_runs_tensorflows_nms(monkeypatch):
    anchors = ssd.make_anchors([(1, 1)])                      # 6 anchors
    boxes = np.array([[0.1, 0.1, 0.5, 0.5], [0.11, 0.1, 0.5, 0.51],   # duplicates (IoU .95)
                      [0.6, 0.6, 0.9, 0.9], [0.1, 0.1, 0.5, 0.5],     # another box; a 2nd class
                      [0.0, 0.0, 0.2, 0.2], [0.0, 0.0, 0.2, 0.2]], np.float32)
    scores = [[0.1, 0.9, 0.0], [0.2, 0.8, 0.0], [0.3, 0.7, 0.0],
              [0.4, 0.0, 0.6], [0.995, 0.005, 0.0], [0.995, 0.0, 0.005]]
    logits, offsets = decoder_inputs(boxes, np.asarray(scores) + 1e-9, anchors)
    calls = []
    nms = tf.image.non_max_suppression_with_scores
    monkeypatch.setattr(tf.image, "non_max_suppression_with_scores",
                        lambda *a, **k: calls.append(k) or nms(*a, **k))
    layer = SSDDecode(feature_maps=[(1, 1)], max_detections=5, score_threshold=0.01)
    found = ssd.unpack(np.asarray(layer([logits, offsets])))
    assert calls and calls[0]["iou_threshold"] == 0.45
    assert found["valid"].tolist() == [3]           # duplicate and faint boxes suppressed
    np.testing.assert_allclose(found["scores"][0, :3], [0.9, 0.7, 0.6], rtol=1e-4)
    assert found["classes"][0].tolist() == [0, 0, 1, -1, -1]   # the digits, then empty rows
    np.testing.assert_allclose(found["boxes"][0, :3], boxes[[0, 2, 3]], atol=1e-5)
    assert not found["boxes"][0, 3:].any() and not found["scores"][0, 3:].any()
    zeros = np.asarray(layer([logits, offsets], training=True))
    assert zeros.shape == (1, 5, 6) and not zeros.any()  # no NMS in training steps


@pytest.mark.parametrize("seed", range(3))
def test_nms_gives_what_combined_non_max_suppression_gives(seed):
    rng = np.random.default_rng(seed)
    corner = rng.uniform(0, 0.8, (2, 300, 2))
    boxes = np.concatenate([corner, corner + rng.uniform(0.05, 0.2, (2, 300, 2))], -1)
    scores = rng.dirichlet(np.ones(11) * 0.3, (2, 300))[..., 1:]
    boxes, scores = boxes.astype(np.float32), scores.astype(np.float32)
    ours = ssd.unpack(np.asarray(ssd.non_max_suppression(boxes, scores, 25, 0.45, 0.05)))
    ref = tf.image.combined_non_max_suppression(boxes[:, :, None], scores, 25, 25, 0.45, 0.05)
    valid = ref.valid_detections.numpy()
    assert ours["valid"].tolist() == valid.tolist()
    for i, n in enumerate(valid):
        np.testing.assert_allclose(ours["scores"][i, :n], ref.nmsed_scores[i, :n], rtol=1e-6)
        np.testing.assert_array_equal(ours["classes"][i, :n], ref.nmsed_classes[i, :n])
        np.testing.assert_allclose(ours["boxes"][i, :n], ref.nmsed_boxes[i, :n], atol=1e-6)
        assert (ours["classes"][i, n:] == -1).all() and not ours["scores"][i, n:].any()


def test_decode_layer_saves_and_reloads(tmp_path):
    maps = [(2, 2), (1, 1)]
    feature = [keras.Input((h, w, 8)) for h, w in maps]
    n = 6 * 5
    logits = keras.layers.Reshape((n, 4))(keras.layers.Dense(n * 4)(
        keras.layers.Flatten()(feature[0])))
    offsets = keras.layers.Reshape((n, 4))(keras.layers.Dense(n * 4)(
        keras.layers.Flatten()(feature[1])))
    out = SSDDecode(max_detections=7, iou_threshold=0.3, s_min=0.3)([logits, offsets, *feature])
    model = keras.Model(feature, out)
    x = [np.random.default_rng(0).random((2, h, w, 8), dtype=np.float32) for h, w in maps]
    before = model.predict(x, verbose=0)
    model.save(tmp_path / "decoder.keras")
    reloaded = keras.models.load_model(tmp_path / "decoder.keras")
    layer = reloaded.layers[-1]
    assert isinstance(layer, SSDDecode) and layer.feature_maps == tuple(maps)
    assert (layer.max_detections, layer.iou_threshold, layer.s_min) == (7, 0.3, 0.3)
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), before, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(layer.anchors, ssd.make_anchors(maps, s_min=0.3))


def test_template_predicts_decoded_detections(tmp_path):
    model = archc.load("mobilenetv2_ssd_auto").build()
    images, boxes, labels = make_mnist_boxes(2, seed=0)
    x = np.repeat(images, 3, axis=-1)
    out = model.predict(x, verbose=0)
    assert out["classes"].shape == (2, 312, 11) and out["boxes"].shape == (2, 312, 4)
    assert out["detections"].shape == (2, 20, 6)
    found = ssd.unpack(out["detections"])
    assert ((found["classes"] >= -1) & (found["classes"] < 10)).all()
    assert ((found["boxes"] >= 0) & (found["boxes"] <= 1)).all()  # clipped to the image
    detector = ssd.inference_model(model)
    again = detector.predict(x, verbose=0)
    assert set(again) == {"boxes", "scores", "classes", "valid"}
    np.testing.assert_allclose(again["scores"], found["scores"], rtol=1e-5)
    model.save(tmp_path / "ssd.keras")
    reloaded = keras.models.load_model(tmp_path / "ssd.keras")
    np.testing.assert_allclose(reloaded.predict(x, verbose=0)["detections"], out["detections"],
                               rtol=1e-4, atol=1e-5)
    assert isinstance(reloaded.loss["classes"], ssd.SSDConfidence)


@pytest.mark.slow
def test_template_converts_to_tflite_with_its_detections(tmp_path):
    """NonMaxSuppressionV5 is a TensorFlow Lite builtin: the whole detector converts without
    TF Select ops and the interpreter finds what Keras finds."""
    from archc.lower import to_tflite

    model = archc.load("mobilenetv2_ssd_auto").build(compile=False)
    x = np.repeat(make_mnist_boxes(1, seed=0)[0], 3, axis=-1)
    interpreter = tf.lite.Interpreter(model_content=to_tflite(model))
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    (found,) = [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()
                if tuple(d["shape"][1:]) == (20, 6)]
    want = model.predict(x, verbose=0)["detections"]
    # an untrained network scores many boxes alike: ties may come out in another order
    np.testing.assert_allclose(np.sort(found[..., 4]), np.sort(want[..., 4]), atol=1e-5)
    assert ssd.unpack(found)["valid"].tolist() == ssd.unpack(want)["valid"].tolist()


def test_inference_model_for_a_model_without_ssd_decode():
    maps = [(2, 2)]
    x = keras.Input((4,))
    classes = keras.layers.Reshape((24, 3))(keras.layers.Dense(72)(x))
    boxes = keras.layers.Reshape((24, 4))(keras.layers.Dense(96)(x))
    model = keras.Model(x, {"classes": classes, "boxes": boxes})
    with pytest.raises(ValueError, match="feature_maps"):
        ssd.inference_model(model)
    detector = ssd.inference_model(model, feature_maps=maps, max_detections=4)
    out = detector.predict(np.ones((3, 4), np.float32), verbose=0)
    assert out["boxes"].shape == (3, 4, 4) and out["valid"].shape == (3,)


# ---------------------------------------------------------------- MNIST detection data


def test_mnist_boxes_is_deterministic():
    a = make_mnist_boxes(20, seed=5)
    b = make_mnist_boxes(20, seed=5)
    c = make_mnist_boxes(20, seed=6)
    np.testing.assert_array_equal(a[0], b[0])
    for x, y in zip(a[1] + a[2], b[1] + b[2], strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])


def test_mnist_boxes_shapes_and_ranges():
    images, boxes, labels = make_mnist_boxes(50, canvas=(96, 80), seed=0)
    assert images.shape == (50, 96, 80, 1) and images.dtype == np.float32
    assert images.min() == 0 and images.max() <= 1
    counts = [len(b) for b in boxes]
    assert min(counts) >= 1 and max(counts) <= 3 and len(set(counts)) == 3
    for b, lab in zip(boxes, labels, strict=True):
        assert b.shape == (len(lab), 4) and lab.dtype == np.int32
        assert ((b >= 0) & (b <= 1)).all()
        assert (b[:, 2] > b[:, 0]).all() and (b[:, 3] > b[:, 1]).all()
        assert ((lab >= 0) & (lab <= 9)).all()
        sides = (b[:, 2:] - b[:, :2]) * np.array([96, 80])
        assert (sides <= 28 + 1e-4).all()


def test_mnist_boxes_contain_the_digit_pixels():
    """Every inked pixel lies in a box, and every box is tight: ink on each of its edges."""
    images, boxes, _ = make_mnist_boxes(40, seed=3)
    height, width = images.shape[1:3]
    for image, b in zip(images[..., 0], boxes, strict=True):
        covered = np.zeros_like(image, bool)
        for y0, x0, y1, x1 in np.rint(b * [height, width, height, width]).astype(int):
            covered[y0:y1, x0:x1] = True
            patch = image[y0:y1, x0:x1] > 0
            assert patch[0].any() and patch[-1].any() and patch[:, 0].any() and patch[:, -1].any()
        assert not (image[~covered] > 0).any()


def test_mnist_boxes_digits_do_not_overlap_much():
    _, boxes, _ = make_mnist_boxes(100, seed=4)
    for b in boxes:
        overlaps = ssd.iou(b, b) - np.eye(len(b))
        assert overlaps.max(initial=0) < 0.35  # tight boxes inside squares of IoU <= 0.1


def test_mnist_boxes_splits_use_different_digits():
    train, test = source_digits("train"), source_digits("test")
    assert len(train[0]) + len(test[0]) == len(source_digits()[0]) == 1797
    splits = make_splits(train=6, test=4)
    assert len(splits["train"][0]) == 6 and len(splits["test"][0]) == 4


# ---------------------------------------------------------------- random samples learn

SMALL = {"image": (64, 64, 3)}


def detection_batch(arch, seed: int, size: int = 4):
    height, width, _ = arch.inputs["image"]
    images, boxes, labels = make_mnist_boxes(size, (height, width), seed=seed,
                                             digit_size=(height // 6, height // 3))
    return np.repeat(images, 3, axis=-1), ssd.targets(boxes, labels, ssd.anchors_for(arch))


def training_loss(model, x, y) -> float:
    """SSD's loss in training mode (batch statistics), the function a step descends."""
    out = model(x, training=True)
    return float(ssd.SSDConfidence()(y["classes"], out["classes"])
                 + ssd.SSDSmoothL1()(y["boxes"], out["boxes"]))


def check_one_step_learns(arch, seed: int) -> None:
    """Compile with the sampled learning rate, predict detections, take ONE training step on
    4 images, and require a lower loss on them.

    The loss is measured in training mode (batch statistics; `train_on_batch` returns it from
    the step's own forward pass): the backbone's batch norms (momentum 0.999, MobileNetV2's)
    move their inference statistics by 0.1 % a step, so the inference-mode loss of an
    untrained network says little. Adam's first step moves each of the ~6.6 M weights by
    about the learning rate; at 1e-3 that can overshoot (measured: 1 of 43 distinct draws of
    the sweep, 44.87 -> 46.16, then 39.68 after a second step), so up to two more steps are
    taken on the same batch.
    """
    keras.utils.set_random_seed(seed)
    model = lower(arch)
    model.run_eagerly = True  # tracing this network costs far more than a batch of 4
    x, y = detection_batch(arch, seed)
    found = ssd.unpack(np.asarray(model(x, training=False)["detections"]))
    assert found["boxes"].shape == (4, 20, 4) and np.isfinite(found["scores"]).all()
    before = model.train_on_batch(x, y, return_dict=True)["loss"]
    assert np.isfinite(before)
    for _ in range(3):
        after = training_loss(model, x, y)
        if after < before:
            return
        model.train_on_batch(x, y)
    raise AssertionError(f"{arch.choices}: loss {before} -> {after} after 3 steps")


def check_samples_learn(draws: int, seed: int) -> int:
    template = archc.load("mobilenetv2_ssd_auto", inputs=SMALL)
    rng, seen = random.Random(seed), set()
    for k in range(draws):
        values = sample(template, rng.randrange(2**31))
        arch = template.resolve(values)
        key = tuple(sorted(arch.choices.items()))
        if key in seen:
            continue
        seen.add(key)
        check_one_step_learns(arch, seed=k)
        keras.backend.clear_session()
    return len(seen)


def test_random_samples_learn():
    assert check_samples_learn(draws=2, seed=1) == 2


@pytest.mark.slow
def test_fifty_random_samples_learn():
    """The acceptance sweep: 50 draws (distinct points of the 3^4 x 2 space checked once)."""
    assert check_samples_learn(draws=50, seed=2) > 30


# ---------------------------------------------------------------- training on MNIST detection


@pytest.mark.slow
def test_trains_on_mnist_detection_and_validation_loss_falls():
    """The paper's data (600 training, 100 test canvases) and the template at its defaults
    (96x96 input, Adam at 1e-3, batch 32): a few epochs lower the validation loss."""
    start = time.perf_counter()
    keras.utils.set_random_seed(0)
    model = archc.load("mobilenetv2_ssd_auto").build()
    anchors = ssd.anchors_for(model)
    splits = make_splits(train=600, test=100, seed=0)
    (x, boxes, labels), (xv, vboxes, vlabels) = splits["train"], splits["test"]
    y, yv = ssd.targets(boxes, labels, anchors), ssd.targets(vboxes, vlabels, anchors)
    history = model.fit(np.repeat(x, 3, -1), y, batch_size=32, epochs=EPOCHS,
                        validation_data=(np.repeat(xv, 3, -1), yv), verbose=0).history
    seconds = time.perf_counter() - start
    val = history["val_loss"]
    print(f"val_loss by epoch {[round(v, 3) for v in val]}, loss {history['loss'][-1]:.3f}, "
          f"{seconds:.0f} s")
    assert all(np.isfinite(val))
    assert val[-1] < val[0]
    assert history["loss"][-1] < 0.5 * history["loss"][0]

