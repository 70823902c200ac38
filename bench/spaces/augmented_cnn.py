"""examples/spaces/augmented_cnn.arch written as a Keras Tuner HyperModel by hand."""

import keras
import keras_tuner as kt

L = keras.layers


class AugmentedCNN(kt.HyperModel):
    """The space of augmented_cnn.arch as a person writes it for Keras Tuner: the rotation's
    factor exists only when rotations are on (a conditional scope)."""

    def build(self, hp):
        width = hp.Choice("width", [16, 32, 48])
        inputs = keras.Input((32, 32, 3))
        x = L.Rescaling(1 / 255)(inputs)
        x = L.RandomTranslation(0.1, 0.1)(L.RandomFlip("horizontal")(x))
        if hp.Boolean("rotate"):
            with hp.conditional_scope("rotate", [True]):
                x = L.RandomRotation(hp.Choice("random_rotation/factor", [0.05, 0.1]))(x)
        if hp.Boolean("zoom"):
            x = L.RandomZoom(0.1)(x)
        for i in range(hp.Int("stages", 2, 4)):
            x = L.Conv2D(width * 2**i, 3, padding="same", activation="relu")(x)
            x = L.MaxPooling2D()(L.BatchNormalization()(x))
        x = L.Dropout(hp.Choice("dropout/rate", [0.2, 0.4]))(L.GlobalAveragePooling2D()(x))
        model = keras.Model(inputs, L.Dense(10, activation="softmax")(x))
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy",
                      metrics=["accuracy"])
        return model
