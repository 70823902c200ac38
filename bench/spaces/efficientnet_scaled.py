"""examples/spaces/efficientnet_scaled.arch written as a Keras Tuner HyperModel by hand."""

import math

import keras
import keras_tuner as kt
from keras import layers


def make_divisible(v, divisor=8):
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


def conv_bn(x, filters, kernel=1, strides=1):
    x = layers.Conv2D(filters, kernel, strides, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.Activation("swish")(x)


def mbconv(x, out, strides, expand, kernel, se):
    channels = x.shape[-1]
    y = conv_bn(x, channels * expand) if expand != 1 else x
    y = layers.DepthwiseConv2D(kernel, strides, padding="same", use_bias=False)(y)
    y = layers.Activation("swish")(layers.BatchNormalization()(y))
    if se:
        s = layers.GlobalAveragePooling2D(keepdims=True)(y)
        s = layers.Conv2D(max(1, channels // 4), 1, activation="swish")(s)
        s = layers.Conv2D(y.shape[-1], 1, activation="sigmoid")(s)
        y = layers.Multiply()([y, s])
    y = layers.BatchNormalization()(layers.Conv2D(out, 1, use_bias=False)(y))
    return layers.Add()([x, y]) if strides == 1 and channels == out else y


class EfficientNetScaled(kt.HyperModel):
    def __init__(self, classes=10):
        super().__init__()
        self.classes = classes

    def build(self, hp):
        width = hp.Choice("width", [0.5, 0.75, 1.0, 1.25])
        depth = hp.Choice("depth", [1.0, 1.5, 2.0])
        se = hp.Boolean("se", default=True)
        inputs = keras.Input((32, 32, 3))
        x = conv_bn(inputs, make_divisible(32 * width), 3, 2)
        for out, n, strides, expand, kernel in [(16, 1, 1, 1, 3), (24, 2, 2, 6, 3),
                                                (40, 2, 2, 6, 5), (80, 3, 2, 6, 3)]:
            for i in range(math.ceil(n * depth)):
                x = mbconv(x, make_divisible(out * width), strides if i == 0 else 1,
                           expand, kernel, se)
        x = conv_bn(x, make_divisible(320 * width))
        x = layers.GlobalAveragePooling2D()(x)
        x = layers.Dropout(hp.Choice("dropout/rate", [0.2, 0.3]))(x)
        outputs = layers.Dense(self.classes, activation="softmax")(x)
        model = keras.Model(inputs, outputs)
        model.compile(optimizer="adam", loss="categorical_crossentropy")
        return model
