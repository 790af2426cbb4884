"""A stand-in for the BRATS17 demo's ``anisotropic_nets.wt_net.WTNet``.

NiftyNet's demo shipped its WNet/TNet (Wang et al. 2017) as TensorFlow 1 code next to the configs;
a voxflow user ports it to Keras. What the configs depend on is the network's window contract, kept
here: in-plane (1×3×3) convolutions that keep the slice size, and four VALID (3×1×1) fusion
convolutions across slices, so a window of N slices gives logits for the N - 8 central slices
(the demo's 19-slice image windows and 11-slice label windows). The layers are few and narrow so
that two training iterations stay fast; it is not the demo's architecture.
"""

import keras

FEATURES = 8
FUSIONS = 4


class WTNet(keras.Model):
    """In-plane feature blocks and four VALID 3×1×1 fusions: output = input minus 8 slices on axis 0."""

    window_divisor = 1

    def __init__(self, num_classes, spatial_dims=3, acti_func="prelu", keep_prob=1.0, w_initializer="he_normal",
                 w_regularizer=None, **unused):
        super().__init__(name="WTNet")
        regularizer = keras.regularizers.L2(w_regularizer) if isinstance(w_regularizer, float) else w_regularizer
        conv = dict(kernel_initializer=w_initializer, kernel_regularizer=regularizer)
        self.blocks = []
        for index in range(FUSIONS):
            if acti_func == "prelu":
                activation = keras.layers.PReLU(shared_axes=(1, 2, 3), name=f"acti{index}")
            else:
                activation = keras.layers.Activation(acti_func, name=f"acti{index}")
            self.blocks.append((
                keras.layers.Conv3D(FEATURES, (1, 3, 3), padding="same", name=f"block{index}", **conv),
                activation,
                keras.layers.Conv3D(FEATURES, (3, 1, 1), padding="valid", name=f"fuse{index}", **conv),
            ))
        self.head = keras.layers.Conv3D(num_classes, (1, 3, 3), padding="same", name="final_pred", **conv)

    def output_window(self, window):
        """The logits' window for an input ``window``: 8 slices fewer on the first axis, centred."""
        return (window[0] - 2 * FUSIONS, *window[1:])

    def build(self, input_shape):
        self.call(keras.ops.zeros((1, 2 * FUSIONS + 1, 4, 4, input_shape[-1])))

    def call(self, inputs, training=None):
        x = inputs
        for block, activation, fuse in self.blocks:
            x = fuse(activation(block(x)))
        return self.head(x)
