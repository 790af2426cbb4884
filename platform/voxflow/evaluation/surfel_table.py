"""Surface-element (surfel) sizes of the 2×2(×2) neighbour codes used by the distance metrics.

A boundary is sampled at voxel corners: the neighbour code of a corner is the bit pattern of the
2×2×2 voxels around it (kernel ``[[[128, 64], [32, 16]], [[8, 4], [2, 1]]]``; in 2-D the 2×2
kernel ``[[8, 4], [2, 1]]``). Codes other than all-in / all-out are surface elements. Each carries
the area (3-D, mm²) of its marching-cubes triangles, or the length (2-D, mm) of its
marching-squares segments, with vertices at edge midpoints, scaled by the voxel spacing.

The 3-D table below lists, for each code, the absolute normals ``|n|`` of its triangles in eighths
(a triangle's area is ``‖(n_x s_y s_z, n_y s_x s_z, n_z s_x s_y)‖``). It was generated with
scikit-image's marching cubes (Lorensen and Lewiner variants of the code and of its complement,
keeping the triangulation of least area, i.e. ambiguous faces split), which reproduces the table of
DeepMind's ``surface-distance`` (Nikolov et al. 2018) and pymia exactly; the test suite checks
this against those packages when installed.
"""

from __future__ import annotations

import functools

import numpy as np

KERNEL_3D = np.array([[[128, 64], [32, 16]], [[8, 4], [2, 1]]], dtype=np.uint8)
KERNEL_2D = np.array([[8, 4], [2, 1]], dtype=np.uint8)



def neighbour_codes(mask: np.ndarray) -> np.ndarray:
    """Neighbour code of every voxel corner of a 2-D or 3-D mask (outside is background).

    The result has shape ``mask.shape + 1`` per axis; corner ``p`` lies between voxels ``p − 1`` and
    ``p`` and its code is the sum of :data:`KERNEL_3D` (2-D: :data:`KERNEL_2D`) over its foreground
    neighbours. Computed by bit packing, one shift-and-or per axis.
    """
    codes = np.pad(np.asarray(mask, dtype=bool), 1).view(np.uint8)
    for axis in reversed(range(codes.ndim)):
        shift = 1 << (codes.ndim - 1 - axis)
        low = tuple(slice(None, -1) if a == axis else slice(None) for a in range(codes.ndim))
        high = tuple(slice(1, None) if a == axis else slice(None) for a in range(codes.ndim))
        codes = (codes[low] << shift) | codes[high]
    return codes


_NORMALS_3D = " ".join("""
,111,111,220 220,111,202 202,111 111,111 222 400,111,111 111,202 202,111 222 400,220 220,111 222
400,111 222 400,400 400,111,022 022,111 111,040 111 222,111 111,004 111 222,111 111 111,111 111
222 222,111 111,022 022 111,111 202 202,022 111 202 333,111 220 220,022 111 220 333,111 111 222
400,111 222 400,111,111 111,022 022,040 111 222,111 111,111 202 202,022 022 111,022 111 202
333,111 111,111 111 111,004 111 222,111 111 222 222,111 220 220,111 111 222 400,022 111 220
333,111 222 400,220 220,040 111 222,040 111 222,040 040,111 220 220,111 202 220 333,040 111 111
222,040 111 222,111 220 220,040 111 111 222,111 202 220 333,040 111 222,220 220 220 220,111 220
220,111 220 220,220 220,111,111 111,111 111,111 220 220,022 022,004 111 222,022 022 111,022 111
220 333,111 111,111 111 111,111 202 202,111 111 222 400,040 111 222,111 111 222 222,022 111 202
333,111 222 400,202 202,004 111 222,111 202 202,111 202 220 333,004 111 222,004 004,004 111 111
222,004 111 222,111 202 202,004 111 111 222,202 202 202 202,111 202 202,111 202 220 333,004 111
222,111 202 202,202 202,111 111,111 111 111,022 022 111,040 111 111 222,022 022 111,004 111 111
222,022 022 022 022,022 022 111,111 111 111,111 111 111 111,004 111 111 222,111 111 111,040 111
111 222,111 111 111,022 022 111,111 111,111 222 400,111 111 222 222,022 111 202 333,040 111
222,022 111 220 333,004 111 222,022 022 111,022 022,111 111 222 400,111 111 111,111 202 202,111
111,111 220 220,111 111,111 111,111,111,111 111,111 111,111 220 220,111 111,111 202 202,111 111
111,111 111 222 400,022 022,022 022 111,004 111 222,022 111 220 333,040 111 222,022 111 202
333,111 111 222 222,111 222 400,111 111,022 022 111,111 111 111,040 111 111 222,111 111 111,004
111 111 222,111 111 111 111,111 111 111,022 022 111,022 022 022 022,004 111 111 222,022 022
111,040 111 111 222,022 022 111,111 111 111,111 111,202 202,111 202 202,004 111 222,111 202 220
333,111 202 202,202 202 202 202,004 111 111 222,111 202 202,004 111 222,004 111 111 222,004
004,004 111 222,111 202 220 333,111 202 202,004 111 222,202 202,111 222 400,022 111 202 333,111
111 222 222,040 111 222,111 111 222 400,111 202 202,111 111 111,111 111,022 111 220 333,022 022
111,004 111 222,022 022,111 220 220,111 111,111 111,111,220 220,111 220 220,111 220 220,220 220
220 220,040 111 222,111 202 220 333,040 111 111 222,111 220 220,040 111 222,040 111 111 222,111
202 220 333,111 220 220,040 040,040 111 222,040 111 222,220 220,111 222 400,022 111 220 333,111
111 222 400,111 220 220,111 111 222 222,004 111 222,111 111 111,111 111,022 111 202 333,022 022
111,111 202 202,111 111,040 111 222,022 022,111 111,111,111 222 400,111 111 222 400,022 111 220
333,111 220 220,022 111 202 333,111 202 202,022 022 111,111 111,111 111 222 222,111 111 111,004
111 222,111 111,040 111 222,111 111,022 022,111,400 400,111 222 400,111 222 400,220 220,111 222
400,202 202,111 111,111,111 222 400,111 111,202 202,111,220 220,111,111,
""".split("\n")).strip()


def _parse_normals() -> list[np.ndarray]:
    entries = [entry.split() for entry in _NORMALS_3D.split(",")]
    assert len(entries) == 256, len(entries)
    return [np.array([[int(d) for d in item] for item in entry], dtype=np.float64).reshape(-1, 3) / 8.0
            for entry in entries]


@functools.lru_cache(maxsize=32)
def surfel_areas_3d(spacing: tuple[float, float, float]) -> np.ndarray:
    """Area in mm² of each of the 256 neighbour codes for voxels of ``spacing`` mm."""
    sx, sy, sz = spacing
    scale = np.array([sy * sz, sx * sz, sx * sy])
    return np.array([np.linalg.norm(normals * scale, axis=1).sum() for normals in _parse_normals()])


@functools.lru_cache(maxsize=32)
def contour_lengths_2d(spacing: tuple[float, float]) -> np.ndarray:
    """Length in mm of each of the 16 neighbour codes of a 2-D contour (marching squares)."""
    sx, sy = spacing
    corner = float(np.hypot(sx, sy)) / 2.0  # segment cutting one corner: midpoints of two edges
    lengths = np.zeros(16)
    for code in range(1, 15):
        bits = [(code >> shift) & 1 for shift in (3, 2, 1, 0)]  # (0,0), (0,1), (1,0), (1,1)
        count = sum(bits)
        if count in (1, 3):
            lengths[code] = corner
        elif bits[0] == bits[3]:  # diagonal pair: two corner segments (saddle)
            lengths[code] = 2 * corner
        else:  # a straight segment across the square
            lengths[code] = sy if bits[0] == bits[1] else sx
    return lengths
