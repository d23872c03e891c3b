"""Stage 2: page each caption to fit the frame and draw every page (background + caption band)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel

from services import imaging
from services.paging import keep_direction, paginate, wrap
from services.settings import RenderOptions
from services.story import Part


class Page(BaseModel):
    """One caption page: shown, and narrated, on its own."""

    caption_number: int
    text: str
    lines: list[str]
    image: Path  # a full frame, or (zoom on) a transparent caption band


class PartPages(BaseModel):
    part_number: int
    pages: list[Page]
    background: Path | None = None  # set when zoom is on: pages are bands laid over it
    band_top: int = 0


@dataclass(frozen=True)
class CaptionPage:
    text: str  # what is narrated and written to the caption files
    drawn: imaging.CaptionText  # what is shown


def page_caption(
    text: str, layout: imaging.CaptionLayout, language: str | None
) -> list[CaptionPage]:
    """One caption's pages, in reading order: the text each narrates and the lines each shows."""
    font = imaging.caption_text_font(text, language)
    lines_of = imaging.caption_lines_of(layout, font)
    return [
        CaptionPage(
            text=page,
            drawn=imaging.CaptionText(tuple(keep_direction(wrap(page, lines_of), text)), font),
        )
        for page in paginate(text, lines_of, layout.max_lines)
    ]


def lay_out_part(part: Part, options: RenderOptions, work_dir: Path) -> PartPages:
    """Draw every caption page of one part as an image, in reading order."""
    part_dir = work_dir / f"part-{part.number:04d}" / "pages"
    part_dir.mkdir(parents=True, exist_ok=True)
    layout = imaging.caption_layout(
        options.width,
        options.height,
        options.max_caption_lines,
        position=options.caption_position,
        scale=options.caption_size,
    )
    style = imaging.CaptionStyle(look=options.caption_style)

    background = part_dir / "background.ppm"
    imaging.compose_background(part.image_path, options.width, options.height, background)

    laid_out = [
        (caption.number, page)
        for caption in part.captions
        for page in page_caption(caption.text, layout, options.language)
    ]
    drawn = [page.drawn for _, page in laid_out]
    if options.zoom:
        # Bands alone: ffmpeg lays them over the slowly zooming background.
        images = [part_dir / f"band-{index:03d}.png" for index in range(len(laid_out))]
        for text, band in zip(drawn, images, strict=True):
            imaging.draw_caption_band(text, layout, band, style)
    else:
        images = [part_dir / f"page-{index:03d}.ppm" for index in range(len(laid_out))]
        imaging.compose_pages(background, drawn, layout, images, style)
    pages = [
        Page(caption_number=number, text=page.text, lines=list(page.drawn.lines), image=image)
        for (number, page), image in zip(laid_out, images, strict=True)
    ]
    return PartPages(
        part_number=part.number,
        pages=pages,
        background=background if options.zoom else None,
        band_top=layout.band_top,
    )


@task(name="draw-captions", task_run_name="draw-captions-{part.number}", cache_policy=NO_CACHE)
def draw_captions(part: Part, options: RenderOptions, work_dir: Path) -> PartPages:
    return lay_out_part(part, options, work_dir)
