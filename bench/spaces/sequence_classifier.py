"""examples/spaces/sequence_classifier.arch written as a Keras Tuner HyperModel by hand."""

import keras
import keras_tuner as kt

L = keras.layers


class SequenceClassifier(kt.HyperModel):
    """The space of sequence_classifier.arch as a person writes it for Keras Tuner."""

    def build(self, hp):
        units = hp.Choice("units", [32, 64, 128])
        cell = L.LSTM if hp.Choice("cell", ["lstm", "gru"]) == "lstm" else L.GRU
        inputs = keras.Input((40,))
        x = L.Embedding(1000, hp.Choice("embedding/output_dim", [32, 64]))(inputs)
        x = L.SpatialDropout1D(hp.Choice("spatial_dropout1d/rate", [0.0, 0.2]))(x)
        for _ in range(hp.Int("stacked", 0, 2)):
            x = cell(units, return_sequences=True)(x)
        x = L.Dropout(hp.Choice("dropout/rate", [0.2, 0.5]))(cell(units)(x))
        model = keras.Model(inputs, L.Dense(4, activation="softmax")(x))
        rate = hp.Choice("learning_rate", [1e-3, 3e-4])
        model.compile(optimizer=keras.optimizers.Adam(rate), loss="categorical_crossentropy",
                      metrics=["accuracy"])
        return model
