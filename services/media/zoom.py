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
    """One frame: crop this rectangle of the canvas, scale it to this size, keep the frame.
    Both rectangles are centred, or moved from the centre by the `shift`s (even pixels: the
    crop's in canvas pixels, the frame's in scaled ones) to zoom toward a subject (`aim`)."""

    crop_width: int
    crop_height: int
    scale_width: int
    scale_height: int
    crop_shift_x: int = 0
    crop_shift_y: int = 0
    frame_shift_x: int = 0
    frame_shift_y: int = 0


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


# --- toward the subject ---------------------------------------------------------------------------
#
# A zoom toward a point of the view (`focus`, fractions across and down) keeps that point where it
# is on screen while everything grows around it: at zoom z the frame shows the view's window of
# 1/z its size whose left edge is focus * (1 - 1/z) of the way across. The window never leaves
# the view, so it never shows past the picture's edges. Moving the window by whole even pixels
# would make the picture jump every few frames (a 10 s part pans 30 pixels at most); but the
# window moves by the crop's shift (canvas pixels) plus the frame's (scaled pixels, each
# crop/scale of a canvas pixel), and among the pairs of even shifts one is within a small
# fraction of a pixel of any position.
AIM_TOLERANCE = 0.1  # frame pixels


def _axis_shift(
    view: int, canvas: int, out: int, crop: int, scale: int, focus: float
) -> tuple[int, int]:
    """(crop shift, frame shift) on one axis whose window is nearest the one that keeps `focus`
    in place, never past the view's edges."""
    ratio = crop / scale  # canvas pixels per scaled pixel
    window = out * ratio  # the frame's window, in canvas pixels
    slack = (view - window) / 2  # how far the window may move either way and stay in the view
    if slack <= 0:
        return 0, 0
    wanted = (focus - 0.5) * 2 * slack
    crop_room = (canvas - crop) // 2
    frame_room = (scale - out) // 2
    best = (0, 0)
    best_key: tuple[int, float] = (1, abs(wanted))
    for frame_shift in range(-frame_room + frame_room % 2, frame_room + 1, 2):
        crop_shift = 2 * round((wanted - frame_shift * ratio) / 2)
        crop_shift = max(-crop_room + crop_room % 2, min(crop_room - crop_room % 2, crop_shift))
        moved = crop_shift + frame_shift * ratio
        if abs(moved) > slack + 1e-9:
            continue
        error = abs(moved - wanted) / ratio  # in frame pixels
        # Within the tolerance, the smallest frame shift; else the nearest.
        key = (0, float(abs(frame_shift))) if error <= AIM_TOLERANCE else (1, error)
        if key < best_key:
            best, best_key = (crop_shift, frame_shift), key
    return best


def _aimed_axis(
    view: int, canvas: int, out: int, zoom: float, at_least: float, focus: float
) -> tuple[int, int, int, int]:
    """(crop, scale, crop shift, frame shift) on one axis: of the pairs within TOLERANCE of
    `zoom` (as `_cheap_axis_step` takes them), the cheapest whose shifts put the window within
    AIM_TOLERANCE of where `focus` wants it; failing that, the one that comes nearest."""
    pairs = [
        pair
        for pair in _axis_pairs(view, canvas, out, zoom)
        if pair[1] / pair[0] * view / out >= at_least
    ]
    nearest = min(_edge_error(view, out, zoom, pair) for pair in pairs)
    good = [pair for pair in pairs if _edge_error(view, out, zoom, pair) <= max(nearest, TOLERANCE)]
    best: tuple[float, int, int, int, int] | None = None
    for crop, scale in sorted(good, key=lambda pair: pair[1]):
        crop_shift, frame_shift = _axis_shift(view, canvas, out, crop, scale, focus)
        error = _shift_error(view, out, crop, scale, focus, crop_shift, frame_shift)
        if error <= AIM_TOLERANCE:
            return crop, scale, crop_shift, frame_shift
        if best is None or error < best[0]:
            best = (error, crop, scale, crop_shift, frame_shift)
    assert best is not None
    return best[1:]


def _shift_error(
    view: int, out: int, crop: int, scale: int, focus: float, crop_shift: int, frame_shift: int
) -> float:
    """How far, in frame pixels, the shifted window is from where `focus` wants it."""
    ratio = crop / scale
    slack = max(0.0, (view - out * ratio) / 2)
    wanted = (focus - 0.5) * 2 * slack
    return abs(crop_shift + frame_shift * ratio - wanted) / ratio


@lru_cache(maxsize=64)
def aimed_steps(
    canvas: ZoomCanvas, total_frames: int, amount: float, focus: tuple[float, float]
) -> list[ZoomStep]:
    """`zoom_steps`, heading for `focus` (fractions of the view) instead of the centre."""
    if focus == (0.5, 0.5):
        return zoom_steps(canvas, total_frames, amount)
    steps = []
    across = down = 0.0
    for frame in range(total_frames):
        zoom = eased_zoom(frame, total_frames, amount)
        crop_w, scale_w, crop_x, frame_x = _aimed_axis(
            canvas.view_width, canvas.canvas_width, canvas.frame_width, zoom, across, focus[0]
        )
        crop_h, scale_h, crop_y, frame_y = _aimed_axis(
            canvas.view_height, canvas.canvas_height, canvas.frame_height, zoom, down, focus[1]
        )
        step = ZoomStep(crop_w, crop_h, scale_w, scale_h, crop_x, crop_y, frame_x, frame_y)
        across, down = effective_zoom(canvas, step)
        steps.append(step)
    return steps


def offsets(canvas: ZoomCanvas, step: ZoomStep) -> tuple[int, int, int, int]:
    """Where a step's crop sits in the canvas and its frame in the scaled picture: x and y of
    each, all even."""
    return (
        (canvas.canvas_width - step.crop_width) // 2 + step.crop_shift_x,
        (canvas.canvas_height - step.crop_height) // 2 + step.crop_shift_y,
        (step.scale_width - canvas.frame_width) // 2 + step.frame_shift_x,
        (step.scale_height - canvas.frame_height) // 2 + step.frame_shift_y,
    )


def window(canvas: ZoomCanvas, step: ZoomStep) -> tuple[float, float, float, float]:
    """The part of the view a step shows: left, top, right, bottom in view pixels."""
    edges = []
    for view, size, out, crop, scale, crop_shift, frame_shift in (
        (
            canvas.view_width,
            canvas.canvas_width,
            canvas.frame_width,
            step.crop_width,
            step.scale_width,
            step.crop_shift_x,
            step.frame_shift_x,
        ),
        (
            canvas.view_height,
            canvas.canvas_height,
            canvas.frame_height,
            step.crop_height,
            step.scale_height,
            step.crop_shift_y,
            step.frame_shift_y,
        ),
    ):
        ratio = crop / scale
        crop_left = (size - crop) // 2 + crop_shift
        frame_left = (scale - out) // 2 + frame_shift
        left = crop_left + frame_left * ratio - (size - view) // 2
        edges.append((left, left + out * ratio))
    (left, right), (top, bottom) = edges
    return left, top, right, bottom
