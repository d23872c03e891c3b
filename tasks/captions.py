"""Stage 2: page each caption to fit the frame and draw every page (background + caption band)."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, replace
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from services.media import caption_drawing, fonts, memory, pictures, zoom
from services.media.framing import Placement
from services.settings import RenderOptions
from services.stages import Page, PartPages, PictureFit
from services.story.model import Part
from services.story.paging import keep_direction, lay_out


@dataclass(frozen=True)
class CaptionPage:
    text: str  # what is narrated and written to the caption files
    drawn: caption_drawing.CaptionText  # what is shown


def page_caption(
    text: str, layout: caption_drawing.CaptionLayout, language: str | None
) -> list[CaptionPage]:
    """One caption's pages, in reading order: the text each narrates and the lines each shows."""
    font = fonts.caption_text_font(text, language)
    lines_of = caption_drawing.caption_lines_of(layout, font)
    return [
        CaptionPage(
            text=page.text,
            drawn=caption_drawing.CaptionText(tuple(keep_direction(page.lines, text)), font),
        )
        for page in lay_out(text, lines_of, layout.max_lines, language)
    ]


def _pages_of(
    part: Part, layout: caption_drawing.CaptionLayout, language: str | None
) -> list[tuple[int, CaptionPage]]:
    """Every page of the part's captions, in reading order, with its caption's number."""
    return [
        (caption.number, page)
        for caption in part.captions
        for page in page_caption(caption.text, layout, language)
    ]


def lay_out_part(part: Part, options: RenderOptions, work_dir: Path) -> PartPages:
    """Draw every caption page of one part as an image, in reading order."""
    part_dir = work_dir / f"part-{part.number:04d}" / "pages"
    part_dir.mkdir(parents=True, exist_ok=True)
    layout = caption_drawing.caption_layout(
        options.width,
        options.height,
        options.max_caption_lines,
        position="bottom" if options.caption_position == "auto" else options.caption_position,
        scale=options.caption_size,
    )
    style = caption_drawing.CaptionStyle(look=options.caption_style)

    background = part_dir / "background.ppm"
    if options.zoom:
        # Drawn larger than the frame, with room around it: see services/zoom.py.
        canvas = zoom.zoom_canvas(options.width, options.height, zoom.ZOOM_AMOUNT)
        placement = pictures.compose_background(
            part.image_path,
            canvas.view_width,
            canvas.view_height,
            background,
            canvas=(canvas.canvas_width, canvas.canvas_height),
        )
        layout = _placed(layout, options, placement)
        laid_out = _pages_of(part, layout, options.language)
        # Bands alone: ffmpeg lays them over the slowly zooming background.
        images = [part_dir / f"band-{index:03d}.pam" for index in range(len(laid_out))]
        blank = part_dir / "band-blank.pam"
        for (_, page), band in zip(laid_out, images, strict=True):
            caption_drawing.draw_caption_band(page.drawn, layout, band, style)
        caption_drawing.draw_caption_band(_no_caption(laid_out), layout, blank, style)
    else:
        # Full frames: the background is kept in memory, and only the pages are written.
        frame, placement = pictures.framed_background(
            part.image_path, options.width, options.height
        )
        layout = _placed(layout, options, placement)
        with frame:
            laid_out = _pages_of(part, layout, options.language)
            images = [part_dir / f"page-{index:03d}.ppm" for index in range(len(laid_out))]
            blank = part_dir / "page-blank.ppm"
            drawn = [page.drawn for _, page in laid_out]
            caption_drawing.compose_pages(
                frame, [*drawn, _no_caption(laid_out)], layout, [*images, blank], style
            )
    pages = [
        Page(
            caption_number=number,
            text=page.text,
            lines=list(page.drawn.lines),
            image=image,
            font=page.drawn.font.description,
            font_language=page.drawn.font.language,
        )
        for (number, page), image in zip(laid_out, images, strict=True)
    ]
    return PartPages(
        part_number=part.number,
        pages=pages,
        background=background if options.zoom else None,
        band_top=layout.band_top,
        position=layout.position,
        focus=placement.focus,
        picture=PictureFit(
            width=placement.picture[0],
            height=placement.picture[1],
            # As seen: with zoom the picture is placed in a view larger than the frame.
            enlargement=round(placement.enlargement * options.width / placement.view[0], 3),
        ),
        blank=blank,
    )


def _placed(
    layout: caption_drawing.CaptionLayout, options: RenderOptions, placement: Placement
) -> caption_drawing.CaptionLayout:
    """The layout at the position `auto` chooses from this part's picture (others as asked)."""
    if options.caption_position != "auto":
        return layout
    return replace(layout, position=caption_drawing.choose_position(layout, placement))


def _no_caption(laid_out: list[tuple[int, CaptionPage]]) -> caption_drawing.CaptionText:
    """A page without lines: the bare picture (nothing of the outline look's scrim stays while
    captions change) shown between two captions, and at the story's end."""
    return caption_drawing.CaptionText((), laid_out[0][1].drawn.font)


# Drawing is CPU-bound ImageMagick work that holds about 45 MB per part at 720x1080 while it
# runs: drawing more parts at once than there are cores adds memory, not speed.
_DRAWING = threading.BoundedSemaphore(os.cpu_count() or 1)


@task(name="draw-captions", task_run_name="draw-captions-{part.number}", cache_policy=NO_CACHE)
def draw_captions(part: Part, options: RenderOptions, work_dir: Path) -> PartPages:
    with _DRAWING:
        try:
            return lay_out_part(part, options, work_dir)
        finally:
            memory.return_free_memory()
