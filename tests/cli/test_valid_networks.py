"""A valid-convolution network (output window smaller than its input) trained and inferred from a
config whose label section has the smaller window, as NiftyNet's unet_2d and deepmedic configs do."""

import textwrap

import nibabel as nib
import numpy as np
from cli_data import write_config

from voxflow.cli.main import main

VALID_NET = textwrap.dedent('''
    import keras
    from voxflow.networks.base import SegmentationNet


    class ValidNet(SegmentationNet):
        """Two valid 3-wide convolutions: the output is 4 voxels smaller on every axis."""

        network_name = "valid_net"

        def __init__(self, num_classes, spatial_dims=3, **kwargs):
            super().__init__(num_classes, spatial_dims, **kwargs)
            self.first = keras.layers.Conv3D(4, 3, padding="valid", activation="relu")
            self.second = keras.layers.Conv3D(num_classes, 3, padding="valid")

        def output_window(self, window):  # declared: the logits are 4 voxels smaller, centred
            return tuple(w - 4 for w in window)

        def build(self, input_shape):  # the base class probes with 1 voxel: too small for valid convolutions
            self.forward(keras.ops.zeros((1, 5, 5, 5, input_shape[-1])))

        def forward(self, x, training=None):
            return self.second(self.first(x))
''')


def _config(tmp_path, label_window):
    (tmp_path / "valid_nets.py").write_text(VALID_NET, encoding="utf-8")
    config = write_config(tmp_path, network="valid_nets.ValidNet", window="12,12,12")
    text = open(config, encoding="utf-8").read()
    head, tail = text.split("[label]", 1)
    tail = tail.replace("spatial_window_size = 12,12,12", f"spatial_window_size = {label_window}", 1)
    open(config, "w", encoding="utf-8").write(head + "[label]" + tail.replace("whitening = True", "whitening = True\n"
                                                                              "volume_padding_size = 2,2,2"))
    return config


def test_a_smaller_label_window_trains_and_infers_on_every_voxel(tmp_path, tiny_dataset):
    config = _config(tmp_path, "8,8,8")
    run = lambda *argv: main(list(argv), prog="net_segment", application="segmentation")  # noqa: E731
    assert run("train", "-c", config, "--max_iter", "2") == 0  # validation included (every 2)
    assert run("inference", "-c", config) == 0
    source = nib.load(str(tiny_dataset / "sub01_T1.nii.gz"))
    output = nib.load(str(tmp_path / "model" / "output" / "sub01_out.nii.gz"))
    assert output.shape == source.shape and np.allclose(output.affine, source.affine)
    assert set(np.unique(np.asarray(output.dataobj))) <= {0, 1, 2}


def test_a_label_window_the_network_does_not_return_is_one_line(tmp_path, tiny_dataset, capsys):
    config = _config(tmp_path, "10,10,10")
    code = main(["train", "-c", config, "--max_iter", "1"], prog="net_segment", application="segmentation")
    message = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in message
    assert "spatial_window_size 10×10×10 of [label] is neither the input window 12×12×12 nor the window 8×8×8" \
        in message


def test_an_inference_window_of_0_takes_each_volumes_whole_extent(tmp_path, tiny_dataset):
    config = write_config(tmp_path, network="unet", window="16,16,8")
    run = lambda *argv: main(list(argv), prog="net_segment", application="segmentation")  # noqa: E731
    assert run("train", "-c", config, "--max_iter", "1", "--validation_every_n", "-1") == 0
    text = open(config, encoding="utf-8").read().replace("[INFERENCE]\n", "[INFERENCE]\nspatial_window_size = 0,0,8\n")
    open(config, "w", encoding="utf-8").write(text)
    assert run("inference", "-c", config) == 0
    source = nib.load(str(tiny_dataset / "sub02_T1.nii.gz"))
    output = nib.load(str(tmp_path / "model" / "output" / "sub02_out.nii.gz"))
    assert output.shape == source.shape and np.allclose(output.affine, source.affine)


def test_a_volume_under_the_inference_window_is_padded_only_to_the_output_window(tmp_path, tiny_dataset, monkeypatch):
    """The network returns the window less 4 voxels: a volume that fills that output is predicted in one
    window (it used to be padded to the input window first, then cut into 2³ windows)."""
    import voxflow.data.volume_prediction as volume_prediction

    config = _config(tmp_path, "8,8,8")
    run = lambda *argv: main(list(argv), prog="net_segment", application="segmentation")  # noqa: E731
    assert run("train", "-c", config, "--max_iter", "1", "--validation_every_n", "-1") == 0
    source = nib.load(str(tiny_dataset / "sub01_T1.nii.gz"))
    volume = tuple(s + 4 for s in source.shape)  # volume_padding_size 2
    window = tuple(s + 4 for s in volume)
    seen, original = [], volume_prediction.predict_volume

    def counting(image, predict, *args, **kwargs):
        def counted(windows):
            seen.append(tuple(windows.shape))
            return predict(windows)
        return original(image, counted, *args, **kwargs)

    monkeypatch.setattr(volume_prediction, "predict_volume", counting)
    assert run("inference", "-c", config, "--INFERENCE.spatial_window_size", ",".join(map(str, window)),
               "--dataset_to_infer", "all", "--batch_size", "8") == 0
    subjects = len(list(tiny_dataset.glob("*_T1.nii.gz")))
    assert len(seen) == subjects and all(shape[0] == 1 for shape in seen), seen  # one window per volume
    output = nib.load(str(tmp_path / "model" / "output" / "sub01_out.nii.gz"))
    assert output.shape == source.shape and set(np.unique(np.asarray(output.dataobj))) <= {0, 1, 2}
