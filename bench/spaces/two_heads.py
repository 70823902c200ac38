"""examples/spaces/two_heads.arch written as a Keras Tuner HyperModel by hand."""

import keras
import keras_tuner as kt
from keras import layers


class TwoHeads(kt.HyperModel):
    def __init__(self, classes=10):
        super().__init__()
        self.classes = classes

    def build(self, hp):
        inputs = keras.Input((32, 32, 3))
        x = inputs
        for i in range(hp.Int("stages", 1, 3)):
            x = layers.Conv2D(16 * 2 ** i, 3, padding="same", activation="relu")(x)
            x = layers.MaxPooling2D(2)(x)
        f = layers.GlobalAveragePooling2D()(x)
        y = layers.Dropout(hp.Choice("dropout/rate", [0.0, 0.3]))(f)
        label = layers.Dense(self.classes, activation="softmax", name="label")(y)
        if hp.Boolean("hidden"):
            with hp.conditional_scope("hidden", [True]):
                f = layers.Dense(hp.Choice("dense_1/units", [32, 64]), activation="relu")(f)
        box = layers.Dense(4, name="box")(f)
        model = keras.Model(inputs, {"label": label, "box": box})
        model.compile(optimizer="adam",
                      loss={"label": "categorical_crossentropy", "box": "huber"},
                      metrics={"label": ["accuracy"], "box": ["mae"]},
                      loss_weights={"label": 1.0,
                                    "box": hp.Choice("loss_weights/box", [0.5, 1.0, 2.0])})
        return model
