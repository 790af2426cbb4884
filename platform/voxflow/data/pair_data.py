"""The pairs, volumes and training windows of one registration action, and its outputs per pair.

:class:`PairData` does for registration what :class:`~voxflow.data.window_data.WindowData` does for
dense tasks: it finds the subjects of the fixed and of the moving sections, splits them, forms the
action's pairs (:func:`~voxflow.data.pairs.form_pairs`), preprocesses each side on its own and
brings each pair onto the fixed grid (:class:`~voxflow.data.pairs.PairLoader`).

Training windows: element ``i`` of worker ``w`` is drawn with ``numpy.random.default_rng((seed +
1000·w, i))`` — the pair (a new order each epoch, or at random with ``pairing = random``) and the
window's place, uniform over the fixed grid (a volume smaller than the window is padded: edge
values for images, 0 for labels). The same window of both images reaches the network.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from voxflow.data.pairs import PairLoader, check_pairs, form_pairs
from voxflow.data.preprocessing.pipeline import Preprocessor
from voxflow.data.splits import split_subjects, subjects_to_infer
from voxflow.data.subjects import find_subjects
from voxflow.errors import ConfigError, DataError
from voxflow.roles import Kind

log = logging.getLogger(__name__)

WORKER_SEED_STEP = 1000
EPOCHS = 1 << 40  # training elements: effectively endless


def round_up(size: int, divisor: int) -> int:
    """The smallest multiple of ``divisor`` at least ``size``."""
    return -(-int(size) // int(divisor)) * int(divisor)


class PairData:
    """See the module docstring.

    Args:
        cfg: the resolved config.
        action: ``train``, ``inference`` or ``export``.
        roles: ``{role: input sections}`` read for the action.
        kinds, groups: the application's ``{role: kind}`` and ``{role: group}`` (``fixed``/``moving``).
    """

    def __init__(self, cfg: Any, action: str, roles: dict[str, tuple[str, ...]], kinds: dict[str, Kind],
                 groups: dict[str, str]) -> None:
        self.cfg, self.action, self.roles, self.kinds, self.groups = cfg, action, roles, kinds, groups
        self.side_roles = {side: {r: s for r, s in roles.items() if groups[r] == side} for side in ("fixed", "moving")}
        self.pre = {side: Preprocessor(cfg, self.side_roles[side], kinds=kinds, groups=groups)
                    for side in ("fixed", "moving")}
        self.loader = PairLoader(self.pre["fixed"], self.pre["moving"], kinds, tuple(self.side_roles["moving"]))
        self.pairs: list[Any] = []
        self.window: tuple[int, int, int] = (1, 1, 1)
        self.spatial_dims = 3
        self.channels = 1
        self.divisor = 1
        self.seed = int(cfg.system.seed)
        self._extra_files: dict[tuple[str, ...], dict[str, dict[str, str]]] = {}

    # ------------------------------------------------------------------ preparing
    def _subjects(self, side: str) -> list[Any]:
        sections = tuple(dict.fromkeys(s for names in self.side_roles[side].values() for s in names))
        return find_subjects(self.cfg, sections=sections)

    def prepare(self) -> None:
        """Subjects, split, pairs; training loads every volume it will visit.

        Raises:
            DataError: no pair, fixed and moving images with different channel counts.
            ConfigError: a training window missing or of the wrong rank.
        """
        cfg = self.cfg
        fixed, moving = self._subjects("fixed"), self._subjects("moving")
        ids = sorted({s.id for s in fixed} | {s.id for s in moving})
        parts = split_subjects(ids, cfg, "train" if self.action == "export" else self.action)
        if self.action == "inference":
            allowed = subjects_to_infer(parts, cfg.inference.dataset_to_infer)
        else:
            allowed = parts["training"]
        self.pairs = form_pairs(fixed, moving, cfg.app.pairing, allowed, cfg.app.pairs_file)
        check_pairs(self.pairs, self.action)
        if self.action == "train":
            for side, subjects in (("fixed", [p.fixed for p in self.pairs]), ("moving", [p.moving for p in self.pairs])):
                self.pre[side].fit(list({s.id: s for s in subjects}.values()))
            self._load_all()
        else:
            for side in ("fixed", "moving"):
                self.pre[side].load_state()
        arrays, _, _ = self.loader.load(self.pairs[0])
        self.channels = int(arrays["fixed_image"].shape[-1])
        if int(arrays["moving_image"].shape[-1]) != self.channels:
            raise DataError(f"The fixed images have {self.channels} channel(s) and the moving images "
                            f"{arrays['moving_image'].shape[-1]}: a registration network reads as many of each.")
        self.window = self._window(arrays["fixed_image"].shape[:3])
        self.spatial_dims = 2 if self.window[2] == 1 else 3
        log.info("%d pair(s) to %s; %d-D, window %s", len(self.pairs), self.action, self.spatial_dims,
                 "x".join(str(n) for n in self.window))

    def _window(self, shape: tuple[int, ...]) -> tuple[int, int, int]:
        """The training window (``spatial_window_size`` of the first fixed section), else the volume's shape."""
        section = self.roles["fixed_image"][0]
        window = tuple(int(n) for n in (self.cfg.inputs[section].spatial_window_size or ()))
        if self.action != "train":
            return tuple(int(n) for n in shape)  # inference registers whole volumes
        if not window:
            raise ConfigError(f"Missing key `spatial_window_size` in [{section}] of {self.cfg.path}: the training "
                              "window of the fixed images (e.g. 64, 64, 64; 2-D: 128, 128, 1).")
        if len(window) == 2:
            window = (*window, 1)
        if len(window) != 3:
            raise ConfigError(f"Invalid value for `spatial_window_size` in [{section}] of {self.cfg.path}: expected "
                              f"2 or 3 sizes. Received: {window}.")
        return window

    def _load_all(self) -> None:
        sides = {("fixed", p.fixed.id): p.fixed for p in self.pairs} | {("moving", p.moving.id): p.moving
                                                                        for p in self.pairs}
        workers = max(1, int(self.cfg.system.num_threads))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(lambda item: self.loader.side(item[0][0], item[1]), sides.items()))

    # ------------------------------------------------------------------ training
    def _pair_index(self, rng: np.random.Generator, index: int, seed: int) -> int:
        count = len(self.pairs)
        if self.cfg.app.pairing == "random":
            return int(rng.integers(count))
        epoch, position = divmod(index, count)
        return int(np.random.default_rng((seed, epoch, 1)).permutation(count)[position])

    def _crop(self, array: np.ndarray, starts: list[int], label: bool) -> np.ndarray:
        widths = [(max(0, (w - n)) // 2, max(0, w - n) - max(0, (w - n)) // 2)
                  for n, w in zip(array.shape[:3], self.window, strict=True)]
        if any(b or a for b, a in widths):
            array = np.pad(array, [*widths, (0, 0)], mode="constant" if label else "edge")
        x, y, z = starts
        return array[x:x + self.window[0], y:y + self.window[1], z:z + self.window[2]]

    def element(self, index: int, seed: int) -> list[np.ndarray]:
        """Training element ``index``: the windows of the roles, in :attr:`roles` order."""
        rng = np.random.default_rng((seed, int(index)))
        arrays, _, _ = self.loader.load(self.pairs[self._pair_index(rng, int(index), seed)])
        shape = arrays["fixed_image"].shape[:3]
        starts = [int(rng.integers(max(n, w) - w + 1)) for n, w in zip(shape, self.window, strict=True)]
        return [self._crop(arrays[role], starts, self.kinds[role] is Kind.LABEL).astype(np.float32)
                for role in self.roles]

    def training_dataset(self, worker: int) -> Any:
        """Endless, unbatched ``{role: (X, Y, Z, C)}`` windows (see the module docstring)."""
        import tensorflow as tf  # noqa: PLC0415

        seed = self.seed + WORKER_SEED_STEP * int(worker)
        names = list(self.roles)
        arrays, _, _ = self.loader.load(self.pairs[0])
        shapes = {role: (*self.window, int(arrays[role].shape[-1])) for role in names}

        def load(index: tf.Tensor) -> dict[str, tf.Tensor]:
            out = tf.numpy_function(lambda i: self.element(int(i), seed), [index], [tf.float32] * len(names))
            return {role: tf.ensure_shape(value, shapes[role]) for role, value in zip(names, out, strict=True)}

        return tf.data.Dataset.range(EPOCHS).map(load, num_parallel_calls=max(1, int(self.cfg.system.num_threads)),
                                                  deterministic=True)

    # ------------------------------------------------------------------ inference
    def predict_pair(self, predict: Any, pair: Any, spatial_dims: int) -> tuple[np.ndarray, Any, Any]:
        """``(field, fixed, moving)``: the field ``(X, Y, Z, D)`` (voxels of the fixed preprocessed grid)."""
        arrays, fixed, moving = self.loader.load(pair)
        both = np.concatenate([arrays["moving_image"], arrays["fixed_image"]], axis=-1)
        shape = both.shape[:3]
        if spatial_dims == 2:
            both = both[:, :, 0]
        padded = [round_up(n, self.divisor) for n in both.shape[:-1]]
        both = np.pad(both, [(0, p - n) for p, n in zip(padded, both.shape[:-1], strict=True)] + [(0, 0)], mode="edge")
        field = np.asarray(predict(both[None].astype(np.float32)))[0]
        field = field[tuple(slice(0, n) for n in shape[:spatial_dims])]
        if spatial_dims == 2:
            field = field[:, :, None]
        return field, fixed, moving

    def writer(self) -> Any:
        """The :class:`~voxflow.data.writers.PairWriter` of the action's pairs."""
        from voxflow.data.writers import PairWriter  # noqa: PLC0415

        inference = self.cfg.inference
        return PairWriter(inference.save_seg_dir, inference.output_postfix, self.pairs,
                          labels=bool(self.cfg.app.moving_label))

    def _read_moving(self, pair: Any, sections: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        """The moving subject's files of ``sections`` as they are (own units, label values), and their affine."""
        from voxflow.data.preprocessing.reading import read_volume  # noqa: PLC0415

        files = dict(pair.moving.files)
        missing = tuple(s for s in sections if s not in files)
        if missing:  # sections only written (the moving labels): this subject's files in them
            if missing not in self._extra_files:
                self._extra_files[missing] = {s.id: s.files for s in find_subjects(self.cfg, sections=missing)}
            if pair.moving.id not in self._extra_files[missing]:
                raise DataError(f"Moving subject '{pair.moving.id}' has no file in [{missing[0]}] (moving_label).")
            files.update(self._extra_files[missing][pair.moving.id])
        volumes = [read_volume(files[s], s, getattr(self.cfg.inputs[s], "loader", None)) for s in sections]
        return np.concatenate([v.data for v in volumes], axis=-1), volumes[0].affine

    def write_pair(self, writer: Any, pair: Any, prediction: tuple[np.ndarray, Any, Any]) -> None:
        """The pair's outputs on the fixed file's grid (:mod:`voxflow.data.registration_outputs`)."""
        from voxflow.data.registration_outputs import field_on_file_grid, warp_file_data  # noqa: PLC0415

        field, fixed, _ = prediction
        geometry = fixed.geometry
        world = field_on_file_grid(field, geometry.preprocessed_affine, geometry.shape, geometry.affine)
        data, affine = self._read_moving(pair, self.roles["moving_image"])
        warped = warp_file_data(data, affine, world, geometry.shape, geometry.affine, 1)
        labels = None
        if self.cfg.app.moving_label:
            data, affine = self._read_moving(pair, tuple(self.cfg.app.moving_label))
            labels = warp_file_data(data, affine, world, geometry.shape, geometry.affine, 0)
        writer.write(pair, warped, labels, world, geometry)
