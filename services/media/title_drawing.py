"""The title card: the story's title (title.txt) drawn large in the middle of the first picture.

The title is drawn like a caption (services/media/caption_drawing.py: Pango shapes it, the same
font choice per script, the same outline or box look), but larger and centred in the frame:
TITLE_SCALE times the caption's size, in at most TITLE_MAX_LINES lines across the caption's
safe width. A longer title is set smaller, down to the caption's own size, where it may take
TITLE_MOST_LINES; a title that does not fit even then is a problem of the story, reported before
anything renders (`fit_title`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from services.media import caption_drawing, pictures, zoom
from services.media.caption_drawing import CaptionLayout, CaptionStyle, CaptionText
from services.media.fonts import caption_text_font
from services.media.framing import Placement
from services.story.paging import keep_direction

TITLE_SCALE = 1.7  # the title's text size over the caption's (looked at: 480x720 and 240x360)
TITLE_MAX_LINES = 3
TITLE_MOST_LINES = 4  # at the captions' size, for a long title (about 60-90 characters)
TITLE_LINE_HEIGHT = 1.2  # per pixel of font size: big type reads better a little tighter
_SIZE_STEP = 0.9  # a title too long for its lines is tried again this much smaller


class TitleTooLong(ValueError):
    """The title does not fit on the picture, even at the caption's size."""


@dataclass(frozen=True)
class TitleCard:
    """The title as drawn: its geometry (a band as high as the frame, text in the middle) and
    its lines."""

    layout: CaptionLayout
    text: CaptionText


def _layout(width: int, height: int, font_size: int) -> CaptionLayout:
    return CaptionLayout(
        width=width,
        height=height,
        font_size=font_size,
        line_height=round(font_size * TITLE_LINE_HEIGHT),
        max_lines=TITLE_MAX_LINES,
        text_width=round(width * (1 - 2 * caption_drawing.SAFE_MARGIN_ACROSS)),
        band_height=height,
        bottom_margin=0,
        position="middle",
    )


def fit_title(
    title: str, width: int, height: int, caption_size: float = 1.0, language: str | None = None
) -> TitleCard:
    """The title's lines at the largest size from TITLE_SCALE times the caption's down to the
    caption's that keeps it to TITLE_MAX_LINES (at the caption's size, TITLE_MOST_LINES);
    TitleTooLong when none does."""
    caption = caption_drawing.caption_layout(width, height, 1, scale=caption_size)
    font = caption_text_font(title, language)
    size = round(caption.font_size * TITLE_SCALE)
    while True:
        layout = _layout(width, height, size)
        lines = caption_drawing.caption_lines_of(layout, font)(title)
        smallest = size <= caption.font_size
        if len(lines) <= (TITLE_MOST_LINES if smallest else TITLE_MAX_LINES):
            return TitleCard(layout, CaptionText(tuple(keep_direction(lines, title)), font))
        if smallest:
            raise TitleTooLong(
                f"is too long to show on the first picture: {len(lines)} lines at the "
                f"captions' size, {TITLE_MOST_LINES} at most (shorten it to about "
                f"{_about_characters(title, len(lines))} characters)"
            )
        size = max(caption.font_size, round(size * _SIZE_STEP))


def _about_characters(title: str, lines: int) -> int:
    return max(1, len(title) * TITLE_MOST_LINES // lines // 5 * 5)


@dataclass(frozen=True)
class DrawnTitle:
    """The title card's images: `title` (the title over the picture) and `blank` (the picture
    alone); with zoom, transparent frame-sized layers over `background`."""

    title: Path
    blank: Path
    background: Path | None
    placement: Placement
    card: TitleCard


def draw_title(
    title: str,
    image: Path,
    width: int,
    height: int,
    target_dir: Path,
    *,
    zoom_on: bool,
    style: CaptionStyle,
    caption_size: float = 1.0,
    language: str | None = None,
) -> DrawnTitle:
    """The title over the first part's picture, framed exactly as that part frames it (so the
    card's last frame, the picture alone, is the part's first)."""
    card = fit_title(title, width, height, caption_size, language)
    target_dir.mkdir(parents=True, exist_ok=True)
    empty = CaptionText((), card.text.font)
    if zoom_on:
        canvas = zoom.zoom_canvas(width, height, zoom.ZOOM_AMOUNT)
        background = target_dir / "background.ppm"
        placement = pictures.compose_background(
            image,
            canvas.view_width,
            canvas.view_height,
            background,
            canvas=(canvas.canvas_width, canvas.canvas_height),
        )
        drawn, blank = target_dir / "title.pam", target_dir / "blank.pam"
        caption_drawing.draw_caption_band(card.text, card.layout, drawn, style)
        caption_drawing.draw_caption_band(empty, card.layout, blank, style)
        return DrawnTitle(drawn, blank, background, placement, card)
    frame, placement = pictures.framed_background(image, width, height)
    drawn, blank = target_dir / "title.ppm", target_dir / "blank.ppm"
    with frame:
        caption_drawing.compose_pages(frame, [card.text, empty], card.layout, [drawn, blank], style)
    return DrawnTitle(drawn, blank, None, placement, card)
