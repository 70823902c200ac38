"""examples/spaces/resnet_stages.arch written as a Keras Tuner HyperModel by hand."""

import keras
import keras_tuner as kt
from keras import layers


def conv_bn(x, filters, kernel, strides=1):
    x = layers.Conv2D(filters, kernel, strides, padding="same", use_bias=False)(x)
    return layers.BatchNormalization()(x)


def basic(x, filters, strides):
    y = layers.ReLU()(conv_bn(x, filters, 3, strides))
    y = conv_bn(y, filters, 3)
    if strides != 1 or x.shape[-1] != filters:
        x = conv_bn(x, filters, 1, strides)
    return layers.ReLU()(layers.Add()([x, y]))


class ResNetStages(kt.HyperModel):
    def __init__(self, classes=10):
        super().__init__()
        self.classes = classes

    def build(self, hp):
        inputs = keras.Input((32, 32, 3))
        x = layers.ReLU()(conv_bn(inputs, 16, 3))
        for name, widths, strides in (("s1", [16, 32], 1), ("s2", [32, 64], 2),
                                      ("s3", [64, 128], 2)):
            filters = hp.Choice(f"{name}/filters", widths)
            for i in range(hp.Int(f"{name}/blocks", 1, 3)):
                x = basic(x, filters, strides if i == 0 else 1)
        x = layers.GlobalAveragePooling2D()(x)
        outputs = layers.Dense(self.classes, activation="softmax")(x)
        model = keras.Model(inputs, outputs)
        model.compile(optimizer="adam", loss="categorical_crossentropy")
        return model
