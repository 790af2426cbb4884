"""Built-in optimisers with NiftyNet's hyper-parameters (looked up by `[TRAINING] optimiser`).

Each factory takes the learning rate (a float, or the schedule of ``[TRAINING] lr_schedule``) and returns a Keras 3 optimiser. A plugin optimiser is any
importable callable with the same signature (``my_pkg.opt.make(lr)``) or a Keras optimiser class.
"""

from __future__ import annotations

import keras


def adam(lr: float) -> keras.optimizers.Optimizer:
    """Adam (beta1 0.9, beta2 0.999, epsilon 1e-8)."""
    return keras.optimizers.Adam(learning_rate=lr, beta_1=0.9, beta_2=0.999, epsilon=1e-8)


def gradient_descent(lr: float) -> keras.optimizers.Optimizer:
    """Plain stochastic gradient descent."""
    return keras.optimizers.SGD(learning_rate=lr)


def momentum(lr: float) -> keras.optimizers.Optimizer:
    """SGD with momentum 0.9."""
    return keras.optimizers.SGD(learning_rate=lr, momentum=0.9)


def nesterov(lr: float) -> keras.optimizers.Optimizer:
    """SGD with Nesterov momentum 0.9."""
    return keras.optimizers.SGD(learning_rate=lr, momentum=0.9, nesterov=True)


def sgd_nesterov(lr: float) -> keras.optimizers.Optimizer:
    """SGD with Nesterov momentum 0.99: nnU-Net's optimiser (with ``lr = 0.01`` and ``lr_schedule = poly``)."""
    return keras.optimizers.SGD(learning_rate=lr, momentum=0.99, nesterov=True)


def adagrad(lr: float) -> keras.optimizers.Optimizer:
    """Adagrad."""
    return keras.optimizers.Adagrad(learning_rate=lr)


def rmsprop(lr: float) -> keras.optimizers.Optimizer:
    """RMSprop (rho 0.9, epsilon 1e-10)."""
    return keras.optimizers.RMSprop(learning_rate=lr, rho=0.9, epsilon=1e-10)
