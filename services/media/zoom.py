"""The slow centre zoom ("Ken Burns") as whole-pixel crops and scales (pure arithmetic, no media).

ffmpeg's fast scaler (swscale) only maps a whole-pixel rectangle onto a whole-pixel size, and a
zoom built from one such step moves in visible jerks: the picture holds still for a few frames,
then jumps a pixel at its edges. Two whole-pixel sizes per axis fix that. The background is drawn
a little larger than the frame (`ZoomCanvas`: the frame's view, at a slightly higher resolution,
centred in a margin of more background); each frame crops a centred `crop` rectangle from it,
scales that to `scale` pixels and keeps the centred frame. The zoom is then scale/crop times a
constant, and among the many pairs of whole numbers there is one within a small fraction of a
pixel of any zoom wanted, so the picture grows a little on every frame, smoothly (`zoom_steps`
takes, of the pairs within TOLERANCE of it, the one with the smallest scaled picture: the
scaler's work). The view's size is chosen so that the constant is not a simple fraction: near simple
fractions the pairs are sparse, and the start of the zoom (the least change) would step.

All crop offsets and scaled sizes keep 4:2:0 chroma on whole samples (offsets even), so colour
stays registered with brightness.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

ZOOM_AMOUNT = 0.08  # the picture grows by 8 % over a part: slow enough not to distract
MARGIN = 0.25  # extra background on each axis beyond the view: room for the crop to vary
REFERENCE_FRAMES = 240  # a ten-second part at 24 fps: the path a canvas is chosen for
# How far from the eased zoom a frame may be, in frame pixels at the frame's edge, to let it
# use a smaller scaled picture: the scaler's cost grows with it, and the nearest pair is often
# a much larger one only a hundredth of a pixel nearer.
TOLERANCE = 0.05


@dataclass(frozen=True)
class ZoomCanvas:
    """The zoom's background image: `view` (the frame's picture at zoom 1, at a slightly higher
    resolution) centred on a `canvas` with extra background around it."""

    frame_width: int
    frame_height: int
    view_width: int
    view_height: int
    canvas_width: int
    canvas_height: int


@dataclass(frozen=True)
class ZoomStep:
    """One frame: crop this centred rectangle of the canvas, scale it to this size, keep the
    centred frame."""

    crop_width: int
    crop_height: int
    scale_width: int
    scale_height: int


@lru_cache(maxsize=16)
def zoom_canvas(width: int, height: int, amount: float) -> ZoomCanvas:
    """The canvas for a width x height frame (both even) and a zoom to 1+amount.

    The view is the frame's shape times m/gcd(width, height), m even; of the m that draw it
    1.1 to 1.25 times larger, the one whose zoom path lands nearest the ideal one is taken."""
    common = math.gcd(width, height)
    first = 2 * math.ceil(common * 1.1 / 2)
    candidates = [
        _canvas(width, height, m) for m in range(first, max(first, int(common * 1.25)) + 1, 2)
    ]
    return min(candidates, key=lambda canvas: _worst_error(canvas, amount))


def _canvas(width: int, height: int, m: int) -> ZoomCanvas:
    common = math.gcd(width, height)
    view_w, view_h = width // common * m, height // common * m
    return ZoomCanvas(
        frame_width=width,
        frame_height=height,
        view_width=view_w,
        view_height=view_h,
        # The view centred at an even offset: margins a multiple of 4 in all.
        canvas_width=view_w + 4 * math.ceil(view_w * MARGIN / 4),
        canvas_height=view_h + 4 * math.ceil(view_h * MARGIN / 4),
    )


def _worst_error(canvas: ZoomCanvas, amount: float) -> float:
    """Largest distance, in frame pixels at the frame's edge, between the zoom a step gives and
    the zoom wanted, over a reference part of 240 frames."""
    worst = 0.0
    for frame, step in enumerate(_nearest_steps(canvas, REFERENCE_FRAMES, amount)):
        wanted = eased_zoom(frame, REFERENCE_FRAMES, amount)
        across, down = effective_zoom(canvas, step)
        worst = max(
            worst,
            abs(across - wanted) * canvas.frame_width / 2,
            abs(down - wanted) * canvas.frame_height / 2,
        )
    return worst


def eased_zoom(frame: int, total_frames: int, amount: float) -> float:
    """1 at the first frame to 1+amount at the last, starting and ending gently (smoothstep)."""
    last = max(total_frames - 1, 1)
    x = min(max(frame / last, 0.0), 1.0)
    return 1.0 + amount * (3 * x * x - 2 * x * x * x)


def _axis_pairs(view: int, canvas: int, out: int, zoom: float) -> list[tuple[int, int]]:
    """Every (crop, scale) on one axis worth trying for `zoom`: for each crop, the scale nearest
    the zoom. crop keeps the parity of canvas modulo 4 and scale that of out modulo 4, so both
    centred offsets, (canvas - crop)/2 and (scale - out)/2, are even. scale >= out,
    crop <= canvas."""
    target = out * zoom / view  # the scale/crop ratio wanted
    pairs = []
    crop = canvas
    while crop > 0 and target * crop >= out - 2:
        scale = out + 4 * round((target * crop - out) / 4)
        if scale >= out:
            pairs.append((crop, scale))
        crop -= 4
    if not pairs:  # cannot happen for zoom >= 1 (crop = view-ish, scale = out fits)
        raise ValueError(f"no crop/scale pair for zoom {zoom}")
    return pairs


def _edge_error(view: int, out: int, zoom: float, pair: tuple[int, int]) -> float:
    """How far, in frame pixels at the frame's edge, a pair's zoom is from `zoom`."""
    crop, scale = pair
    return abs(scale / crop * view / out - zoom) * out / 2


def axis_step(view: int, canvas: int, out: int, zoom: float) -> tuple[int, int]:
    """(crop, scale) on one axis whose effective zoom, scale/crop * view/out, is nearest `zoom`."""
    return min(
        _axis_pairs(view, canvas, out, zoom),
        key=lambda pair: _edge_error(view, out, zoom, pair),
    )


def _cheap_axis_step(
    view: int, canvas: int, out: int, zoom: float, at_least: float
) -> tuple[int, int]:
    """(crop, scale) on one axis with the smallest scale (the scaler's work) among those within
    TOLERANCE of `zoom` (or as near as any, if none is), never zooming out below `at_least`."""
    pairs = [
        pair
        for pair in _axis_pairs(view, canvas, out, zoom)
        if pair[1] / pair[0] * view / out >= at_least
    ]
    nearest = min(_edge_error(view, out, zoom, pair) for pair in pairs)
    good = [pair for pair in pairs if _edge_error(view, out, zoom, pair) <= max(nearest, TOLERANCE)]
    return min(good, key=lambda pair: (pair[1], _edge_error(view, out, zoom, pair)))


def _nearest_steps(canvas: ZoomCanvas, total_frames: int, amount: float) -> list[ZoomStep]:
    """Every frame's nearest crop and scale: the path a canvas is judged by."""
    steps = []
    for frame in range(total_frames):
        zoom = eased_zoom(frame, total_frames, amount)
        crop_w, scale_w = axis_step(
            canvas.view_width, canvas.canvas_width, canvas.frame_width, zoom
        )
        crop_h, scale_h = axis_step(
            canvas.view_height, canvas.canvas_height, canvas.frame_height, zoom
        )
        steps.append(ZoomStep(crop_w, crop_h, scale_w, scale_h))
    return steps


def zoom_steps(canvas: ZoomCanvas, total_frames: int, amount: float) -> list[ZoomStep]:
    """Every frame's crop and scale for an eased zoom from 1 to 1+amount over the part: within
    TOLERANCE of the eased zoom, the cheapest to scale, never shrinking back."""
    steps = []
    across = down = 0.0
    for frame in range(total_frames):
        zoom = eased_zoom(frame, total_frames, amount)
        crop_w, scale_w = _cheap_axis_step(
            canvas.view_width, canvas.canvas_width, canvas.frame_width, zoom, across
        )
        crop_h, scale_h = _cheap_axis_step(
            canvas.view_height, canvas.canvas_height, canvas.frame_height, zoom, down
        )
        step = ZoomStep(crop_w, crop_h, scale_w, scale_h)
        across, down = effective_zoom(canvas, step)
        steps.append(step)
    return steps


def effective_zoom(canvas: ZoomCanvas, step: ZoomStep) -> tuple[float, float]:
    """The zoom a step really gives, horizontally and vertically (1 = the view fills the frame)."""
    return (
        step.scale_width / step.crop_width * canvas.view_width / canvas.frame_width,
        step.scale_height / step.crop_height * canvas.view_height / canvas.frame_height,
    )
