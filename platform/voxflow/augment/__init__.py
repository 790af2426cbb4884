"""Augmentation layers that run as TensorFlow ops on the device, inside the train step."""
