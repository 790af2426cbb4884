"""Engine: application driver, train/validation loop, checkpoints, TensorBoard, inference loop.

The engine knows nothing about segmentation; applications supply data, network and loss.
"""
