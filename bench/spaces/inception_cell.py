"""examples/spaces/inception_cell.arch written as a Keras Tuner HyperModel by hand."""

import keras
import keras_tuner as kt
from keras import layers


def cell(x, hp, prefix):
    f = hp.Choice(f"{prefix}/f", [32, 64])
    branches = [layers.Conv2D(f, 1, activation="relu")(x)]
    if hp.Boolean(f"{prefix}/b3"):
        y = layers.Conv2D(f // 2, 1, activation="relu")(x)
        branches.append(layers.Conv2D(f, 3, padding="same", activation="relu")(y))
    if hp.Boolean(f"{prefix}/b5"):
        y = layers.Conv2D(f // 4, 1, activation="relu")(x)
        y = layers.Conv2D(f // 2, 3, padding="same", activation="relu")(y)
        branches.append(layers.Conv2D(f // 2, 3, padding="same", activation="relu")(y))
    if hp.Boolean(f"{prefix}/pool"):
        y = layers.MaxPooling2D(3, 1, padding="same")(x)
        branches.append(layers.Conv2D(f // 2, 1, activation="relu")(y))
    return layers.Concatenate()(branches) if len(branches) > 1 else branches[0]


class InceptionCell(kt.HyperModel):
    def __init__(self, classes=10):
        super().__init__()
        self.classes = classes

    def build(self, hp):
        inputs = keras.Input((32, 32, 3))
        x = layers.Conv2D(32, 3, padding="same", activation="relu")(inputs)
        cells = hp.Int("cells", 1, 3)
        for k in range(3):
            # repetition k exists for cells > k: its hps are declared in that scope only
            with hp.conditional_scope("cells", list(range(k + 1, 4))):
                if cells > k:
                    x = layers.MaxPooling2D(2)(cell(x, hp, f"cells/rep{k}/cell"))
        x = layers.GlobalAveragePooling2D()(x)
        outputs = layers.Dense(self.classes, activation="softmax")(x)
        model = keras.Model(inputs, outputs)
        model.compile(optimizer="adam", loss="categorical_crossentropy")
        return model
