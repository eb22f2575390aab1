"""Gives both hidden layers 128 units: 784-128-128-10, 118,282 parameters.

The network trains as well as the one asked for, so only `build_model` loses.
"""
LOSES = ("build_model",)


def build_model():
    return keras.Sequential([
        keras.Input(shape=(784,)),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(10),
    ])
