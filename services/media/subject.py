"""Where a picture's subject is, without a model: spectral-residual saliency in numpy.

The subject of an illustration (a character, a boat, a house) is where the picture differs from
what its texture predicts. Spectral residual saliency (Hou and Zhang, CVPR 2007) finds that in
the picture's spectrum: the log amplitude minus its local average is the "unexpected" part, and
transformed back (with the picture's own phase) it lights up the subject. It runs on a thumbnail
(64 pixels on the longer side), on brightness and two colour-opponent channels (so a red fox on a
green field of the same brightness still stands out), in well under a millisecond of numpy.

The thumbnail is mirrored into a 2x2 tile before the transform: the transform treats a picture as
repeating, and a sky over a meadow would otherwise meet the meadow at the top edge and light up
both edges, which is exactly where captions go.

A picture gives no clear answer when the salient pixels are spread over much of it (a busy
pattern) or hold little of its saliency (a flat colour, a smooth gradient): `Subject.clear` is
then False and callers keep their defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

THUMBNAIL_SIDE = 64  # pixels on the thumbnail's longer side (Hou and Zhang used 64x64)
_SMOOTHING = 2.5  # Gaussian sigma of the saliency map, in thumbnail pixels
_SALIENT = 3.0  # a pixel is salient above this many times the map's mean
_MOST_AREA = 0.45  # salient pixels over more of the picture than this: no clear subject
_LEAST_CONCENTRATION = 1.8  # mass share / area share of the salient pixels, at least
# The salient pixels hold at least this share of the saliency: in a picture with nothing in it
# (a smooth gradient) a few stray pixels stand out above the mean, but they hold little of it
# (0.10 measured; 0.37-0.77 for a drawn character).
_LEAST_MASS = 0.2

Floats = NDArray[np.float64]


@dataclass(frozen=True)
class Box:
    """A rectangle in fractions of the picture (0 to 1 across and down)."""

    left: float
    top: float
    right: float
    bottom: float

    @property
    def centre(self) -> tuple[float, float]:
        return (self.left + self.right) / 2, (self.top + self.bottom) / 2


@dataclass(frozen=True)
class Subject:
    """What the picture's saliency says: its `map` (thumbnail-sized, summing to 1), the box
    around its salient pixels, their centre of mass, and whether the answer is clear."""

    map: Floats
    box: Box
    focus: tuple[float, float]  # saliency-weighted centre of the salient pixels, in fractions
    clear: bool

    def mass(self, box: Box) -> float:
        """The share of the picture's saliency inside `box` (fractions of the picture)."""
        rows, columns = self.map.shape
        top, bottom = round(box.top * rows), round(box.bottom * rows)
        left, right = round(box.left * columns), round(box.right * columns)
        top, left = max(0, top), max(0, left)
        if bottom <= top or right <= left:
            return 0.0
        return float(self.map[top:bottom, left:right].sum())


NO_SUBJECT = Subject(
    map=np.full((1, 1), 1.0), box=Box(0.0, 0.0, 1.0, 1.0), focus=(0.5, 0.5), clear=False
)


@lru_cache(maxsize=32)
def _blur_matrix(size: int, sigma: float) -> Floats:
    """The matrix that blurs a vector of `size` values with a Gaussian, edges extended."""
    radius = max(1, round(3 * sigma))
    offsets = np.arange(-radius, radius + 1)
    taps = np.exp(-0.5 * (offsets / sigma) ** 2)
    taps /= taps.sum()
    matrix = np.zeros((size, size))
    for index in range(size):
        sources = np.clip(index + offsets, 0, size - 1)
        np.add.at(matrix[index], sources, taps)
    return matrix


def _gaussian(values: Floats, sigma: float) -> Floats:
    """A separable Gaussian blur, edges extended (two small matrix products)."""
    rows, columns = values.shape
    return np.asarray(
        _blur_matrix(rows, sigma) @ values @ _blur_matrix(columns, sigma).T, dtype=np.float64
    )


def _box_average(values: Floats, size: int = 3) -> Floats:
    """The mean over a size x size neighbourhood of each of the last two axes, wrapping round
    (the spectrum repeats)."""
    half = size // 2
    rows = sum(np.roll(values, shift, axis=-2) for shift in range(-half, half + 1))
    both = sum(np.roll(rows, shift, axis=-1) for shift in range(-half, half + 1))
    return np.asarray(both, dtype=np.float64) / (size * size)


def _spectral_residual(channels: Floats) -> Floats:
    """The saliency of each channel (channels x rows x columns), each mirrored into a seamless
    2x2 tile first; all channels in one transform."""
    tile = np.concatenate(
        [
            np.concatenate([channels, channels[..., ::-1]], axis=-1),
            np.concatenate([channels[..., ::-1, :], channels[..., ::-1, ::-1]], axis=-1),
        ],
        axis=-2,
    )
    spectrum = np.fft.fft2(tile)
    amplitude = np.abs(spectrum)
    # A floor: drawn pictures have exact zeros in their spectrum, whose logarithms would swamp
    # the residual.
    floor = 1e-4 * amplitude.max(axis=(-2, -1), keepdims=True) + 1e-9
    log_amplitude = np.log(amplitude + floor)
    residual = log_amplitude - _box_average(log_amplitude)
    back = np.fft.ifft2(np.exp(residual + 1j * np.angle(spectrum)))
    rows, columns = channels.shape[-2:]
    return np.asarray((np.abs(back) ** 2)[..., :rows, :columns], dtype=np.float64)


def saliency_map(rgb: NDArray[np.uint8]) -> Floats:
    """The saliency of an RGB thumbnail (rows x columns x 3), smoothed, summing to 1."""
    pixels = rgb.astype(np.float64) / 255.0
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    channels = [(red + green + blue) / 3, red - green, blue - (red + green) / 2]
    # A flat channel (a grey picture's colour) adds only noise.
    varied = [channel for channel in channels if np.ptp(channel) >= 1e-3]
    if not varied:
        return np.full(red.shape, 1.0 / red.size)
    total = _spectral_residual(np.stack(varied)).sum(axis=0)
    smoothed = _gaussian(total, _SMOOTHING)
    mass = smoothed.sum()
    if mass <= 0:
        return np.full(red.shape, 1.0 / red.size)
    return np.asarray(smoothed / mass, dtype=np.float64)


def find_subject(rgb: NDArray[np.uint8]) -> Subject:
    """The subject of an RGB thumbnail (see the module's docstring)."""
    if rgb.ndim != 3 or min(rgb.shape[:2]) < 4:
        return NO_SUBJECT
    weights = saliency_map(rgb)
    rows, columns = weights.shape
    salient = weights > _SALIENT * weights.mean()
    area = float(salient.mean())
    if not salient.any():
        return Subject(weights, Box(0.0, 0.0, 1.0, 1.0), (0.5, 0.5), clear=False)
    mass = float(weights[salient].sum())
    down, across = np.nonzero(salient)
    box = Box(
        left=across.min() / columns,
        top=down.min() / rows,
        right=(across.max() + 1) / columns,
        bottom=(down.max() + 1) / rows,
    )
    inside = weights * salient
    focus = (
        float((inside.sum(axis=0) * (np.arange(columns) + 0.5)).sum() / mass / columns),
        float((inside.sum(axis=1) * (np.arange(rows) + 0.5)).sum() / mass / rows),
    )
    clear = (
        area <= _MOST_AREA
        and mass >= _LEAST_MASS
        and mass / max(area, 1e-9) >= _LEAST_CONCENTRATION
    )
    return Subject(weights, box, focus, clear)
