"""pymia's AverageDistance (SimpleITK's average Hausdorff distance) next to ASSD, each by its own name."""

import math

import numpy as np
import pytest
import SimpleITK as sitk

from voxflow.evaluation.metrics import evaluate_labels
from voxflow.evaluation.voxel_distance import average_hausdorff_distance


def _ball(centre, radius, shape=(40, 36, 30)):
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), -1)
    return np.linalg.norm(grid - np.asarray(centre), axis=-1) < radius


def _simpleitk(a, b, spacing):
    images = []
    for mask in (a, b):
        image = sitk.GetImageFromArray(mask.astype(np.uint8).transpose(2, 1, 0))
        image.SetSpacing(spacing)
        images.append(image)
    measure = sitk.HausdorffDistanceImageFilter()
    measure.Execute(*images)
    return measure.GetAverageHausdorffDistance()


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (0.7, 1.1, 2.0)])
def test_average_hausdorff_distance_is_simpleitks(spacing):
    a, b = _ball((20, 18, 15), 10), _ball((23, 16, 14), 8)
    assert average_hausdorff_distance(a, b, spacing) == pytest.approx(_simpleitk(a, b, spacing), rel=1e-9)


def test_it_is_not_the_surface_distance_and_each_has_its_names():
    a, b = _ball((20, 18, 15), 10), _ball((22, 17, 15), 9)
    row = evaluate_labels(a.astype(int), b.astype(int), [1], (1.0, 1.0, 1.0),
                          ["average_distance", "assd", "average_surface_distance", "avgdist",
                           "average_hausdorff_distance", "hausdorff_distance", "hdrfdst", "hausdorff"])[0]
    assert row["average_distance"] == row["assd"] == row["average_surface_distance"]  # NiftyNet's name: ASSD
    assert row["avgdist"] == row["average_hausdorff_distance"] < 0.5 * row["assd"]  # pymia's: over all voxels
    assert row["hausdorff_distance"] == row["hdrfdst"] == row["hausdorff"]


def test_empty_masks_give_inf_as_pymia():
    empty = np.zeros((10, 10, 10), bool)
    assert math.isinf(average_hausdorff_distance(empty, _ball((5, 5, 5), 3, (10, 10, 10))))
