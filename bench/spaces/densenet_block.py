"""examples/spaces/densenet_block.arch written as a Keras Tuner HyperModel by hand."""

import keras
import keras_tuner as kt
from keras import layers


def dense_block(x, hp, prefix):
    growth = hp.Choice(f"{prefix}/growth", [12, 24])
    feats = [x]
    for k in range(4):
        y = layers.Concatenate()(feats) if len(feats) > 1 else feats[0]
        y = layers.ReLU()(layers.BatchNormalization()(y))
        if hp.Boolean(f"{prefix}/feats/rep{k}/bottleneck", default=True):
            y = layers.ReLU()(layers.BatchNormalization()(layers.Conv2D(4 * growth, 1)(y)))
        feats.append(layers.Conv2D(growth, 3, padding="same")(y))
    return layers.Concatenate()(feats)


def transition(x, filters):
    x = layers.ReLU()(layers.BatchNormalization()(x))
    return layers.AveragePooling2D(2)(layers.Conv2D(filters, 1)(x))


class DenseNetBlock(kt.HyperModel):
    def __init__(self, classes=10):
        super().__init__()
        self.classes = classes

    def build(self, hp):
        inputs = keras.Input((32, 32, 3))
        x = layers.Conv2D(24, 3, padding="same")(inputs)
        blocks = hp.Int("blocks", 1, 3, default=2)
        for k in range(3):
            # block k exists for blocks > k: its hps are declared in that scope only
            with hp.conditional_scope("blocks", list(range(k + 1, 4))):
                if blocks > k:
                    x = transition(dense_block(x, hp, f"blocks/rep{k}/dense_block"), 48)
        x = layers.GlobalAveragePooling2D()(layers.ReLU()(layers.BatchNormalization()(x)))
        outputs = layers.Dense(self.classes, activation="softmax")(x)
        model = keras.Model(inputs, outputs)
        model.compile(optimizer="adam", loss="categorical_crossentropy")
        return model
