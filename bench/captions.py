"""Benchmark: drawing caption pages with Pango against the freetype drawing it replaced.

    .venv/bin/python bench/captions.py                  # about half a minute on 2 cores
    .venv/bin/python bench/captions.py --rounds 9 --pages 20

For each frame size, one page of a Latin caption (three lines) is laid out and drawn over a
background, the whole caption-stage work for a page: wrap the text to the frame, draw the band
(gradient, shadow, outline, text), compose it onto the background, write the PPM ffmpeg reads.

- "freetype": the drawing before Pango, kept here as the baseline: widths from ImageMagick's
  freetype metrics, a greedy word wrap, the outline drawn as a stroke over the whole band.
  It draws Latin, Greek and Cyrillic correctly, and nothing else.
- "pango": the drawing now (services/media/caption_drawing.py): Pango's own line breaking and
  shaped widths, the text drawn by Pango through cairo, outline and shadow grown from the drawn
  glyphs.

The two alternate within each round (so a busy machine slows both alike); the figure is the median
over rounds of the time per page. The other scripts are timed with Pango for information (the
freetype path cannot draw them).

Paging (issue 19): whole captions of several pages through the caption stage, laid out and every
page drawn, in CPU seconds: "greedy" is the paging before (bench/greedy_paging.py: greedy pages,
Pango's lines as they come), "balanced" the paging now (sentence ends that know abbreviations,
balanced pages, no lone last word, hyphenation). Portrait sizes, where the line length is as
before, so the two draw the same kind of pages. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from wand.color import Color
from wand.drawing import Drawing
from wand.image import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import greedy_paging
from services.media import caption_drawing, fonts, pictures
from services.story.paging import keep_direction
from tasks.captions import page_caption

LATIN = "Once upon a time, a small cat lived in a lighthouse by the sea and watched the ships."
OTHERS = {
    "arabic": "كان يا ما كان، قطة صغيرة تعيش في منارة على شاطئ البحر وتراقب السفن.",
    "hindi": "एक छोटी बिल्ली समुद्र के किनारे प्रकाशस्तंभ में रहती थी और जहाज़ देखती थी।",
    "thai": "กาลครั้งหนึ่งมีแมวตัวเล็กอาศัยอยู่ในประภาคารริมทะเลและเฝ้าดูเรือ",
    "chinese": "从前，有一只小猫住在海边的灯塔里，每天看着船只来来往往。",
}
SIZES = [(480, 720), (720, 1080)]
PAGED = {
    "en short": LATIN,  # with the round's " N." it takes 2-3 pages
    "en": "Once upon a time, in a quiet village by the sea, there lived a girl named Mira. She "
    "loved the waves more than anything; every morning at 6 a.m. she ran down to the shore, "
    "counted the boats, and waved at Mr. Badger and the fishermen. One day a storm came. The "
    "sky turned black, the wind howled, and the boats did not come home!",
    "de": "Es war einmal ein kleiner Igel, der am Rand des Waldes wohnte. Jeden Abend ging er "
    "z. B. zum Bach, um Wasser zu trinken, und jeden Sonntag besuchte er Herrn Dr. Maus. Im "
    "Herbst gewann er den Schokoladenkuchenbackwettbewerb im Dorf, und alle Tiere feierten.",
}


# --- the freetype drawing as it was (baseline only) ---------------------------------------------


class FreetypeWidths:
    def __init__(self, font: str, font_size: int):
        self.font, self.font_size = font, font_size
        self.cache: dict[str, float] = {}

    def __call__(self, text: str) -> float:
        if text not in self.cache:
            with Drawing() as draw, Image(width=1, height=1) as canvas:
                draw.font = self.font
                draw.font_size = self.font_size
                self.cache[text] = float(draw.get_font_metrics(canvas, text).text_width)
        return self.cache[text]


def greedy_wrap(text: str, measure: Callable[[str], float], max_width: float) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if current and measure(candidate) > max_width:
            lines.append(current)
            candidate = word
        current = candidate
    return [*lines, current] if current else lines


def _freetype_lines(
    canvas: Image,
    lines: list[str],
    layout: caption_drawing.CaptionLayout,
    font: str,
    colour: str,
    stroke,
) -> None:
    with Drawing() as draw:
        draw.font = font
        draw.font_size = layout.font_size
        draw.fill_color = Color(colour)
        draw.text_alignment = "center"
        draw.text_antialias = True
        if stroke > 0:
            draw.stroke_color = Color(colour)
            draw.stroke_width = stroke
            draw.stroke_antialias = True
        baseline = layout.band_height - layout.bottom_margin - round(layout.font_size * 0.28)
        first = baseline - (len(lines) - 1) * layout.line_height
        for index, line in enumerate(lines):
            draw.text(layout.width // 2, first + index * layout.line_height, line)
        draw(canvas)


def freetype_band(lines: list[str], layout: caption_drawing.CaptionLayout, font: str) -> Image:
    width, band = layout.width, layout.band_height
    canvas = Image(width=width, height=band, pseudo="gradient:rgba(0,0,0,0)-rgba(0,0,0,0.82)")
    canvas.level(black=0.0, white=0.6, channel="alpha")
    with Image(width=width, height=band, background=Color("rgba(0,0,0,0)")) as outline:
        stroke = max(1.0, layout.font_size / 11)
        _freetype_lines(outline, lines, layout, font, "rgb(20,20,20)", stroke)
        with outline.clone() as shadow:
            shadow.resize(max(1, width // 2), max(1, band // 2), filter="triangle")
            shadow.blur(radius=0, sigma=max(0.5, layout.font_size / 20))
            shadow.resize(width, band, filter="triangle")
            offset = max(1, layout.font_size // 14)
            canvas.composite(shadow, offset, offset)
        canvas.composite(outline, 0, 0)
    _freetype_lines(canvas, lines, layout, font, "rgb(255,255,255)", 0)
    return canvas


def freetype_page(
    background: Path, text: str, layout: caption_drawing.CaptionLayout, target: Path
) -> None:
    font = fonts.caption_font()
    lines = greedy_wrap(text, FreetypeWidths(font, layout.font_size), layout.text_width)
    with Image(filename=str(background)) as frame, freetype_band(lines, layout, font) as band:
        frame.composite(band, left=0, top=layout.band_top)
        frame.alpha_channel = "remove"
        frame.format = "ppm"
        frame.save(filename=str(target))


# --- the drawing now ------------------------------------------------------------------------------


def pango_page(
    background: Path,
    text: str,
    layout: caption_drawing.CaptionLayout,
    target: Path,
    language: str = "en",
) -> None:
    pages = page_caption(text, layout, language)
    caption_drawing.compose_pages(background, [pages[0].drawn], layout, [target])


# --- timing ---------------------------------------------------------------------------------------


def greedy_stage(
    background: Path, text: str, layout: caption_drawing.CaptionLayout, folder: Path
) -> int:
    """A caption through the caption stage as before: greedy pages, every page drawn."""
    font = fonts.caption_text_font(text, "en")
    lines_of = caption_drawing.caption_lines_of(layout, font)
    pages = [
        caption_drawing.CaptionText(
            tuple(keep_direction(greedy_paging.wrap(page, lines_of), text)), font
        )
        for page in greedy_paging.paginate(text, lines_of, layout.max_lines)
    ]
    targets = [folder / f"page-{index}.ppm" for index in range(len(pages))]
    caption_drawing.compose_pages(background, pages, layout, targets)
    return len(pages)


def balanced_stage(
    background: Path, text: str, layout: caption_drawing.CaptionLayout, folder: Path, language: str
) -> int:
    """A caption through the caption stage now."""
    pages = [page.drawn for page in page_caption(text, layout, language)]
    targets = [folder / f"page-{index}.ppm" for index in range(len(pages))]
    caption_drawing.compose_pages(background, pages, layout, targets)
    return len(pages)


def stage_cpu(stage: Callable[[str], int], text: str, captions: int) -> tuple[float, int]:
    """CPU seconds per caption (this process, every thread), and pages per caption."""
    start, pages = time.process_time(), 0
    for index in range(captions):
        pages += stage(f"{text} {index}.")
    return (time.process_time() - start) / captions, pages // captions


def bench_paging(folder: Path, picture: Path, rounds: int, captions: int) -> None:
    print(f"\n{'paged caption':<24}{'greedy ms':>12}{'balanced ms':>13}{'ratio':>8}{'pages':>9}")
    for width, height in SIZES:
        layout = caption_drawing.caption_layout(width, height, 3)
        background = folder / f"background-{width}.ppm"
        pictures.compose_background(picture, width, height, background)
        for language, text in PAGED.items():
            old = partial(greedy_stage, background, layout=layout, folder=folder)
            new = partial(
                balanced_stage, background, layout=layout, folder=folder, language=language[:2]
            )
            old(text), new(text)  # fonts, hyphenation patterns and coders loaded before timing
            before, after = [], []
            for _ in range(rounds):
                before.append(stage_cpu(old, text, captions))
                after.append(stage_cpu(new, text, captions))
            old_ms = statistics.median(cpu for cpu, _ in before) * 1000
            new_ms = statistics.median(cpu for cpu, _ in after) * 1000
            pages = f"{before[0][1]}->{after[0][1]}"
            case = f"{language} {width}x{height}"
            print(f"{case:<24}{old_ms:>12.1f}{new_ms:>13.1f}{new_ms / old_ms:>8.2f}{pages:>9}")


def per_page(draw: Callable[[str], None], text: str, pages: int) -> float:
    """Seconds per page, drawing `pages` pages of `text` (each a fresh measurer: no warm cache
    of widths carries over from one page to the next beyond what the product keeps itself)."""
    start = time.perf_counter()
    for index in range(pages):
        draw(f"{text} {index}")
    return (time.perf_counter() - start) / pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pages", type=int, default=12, help="pages drawn per round and path")
    parser.add_argument("--captions", type=int, default=4, help="paged captions per round")
    parser.add_argument("--paging-only", action="store_true", help="only the paging comparison")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-captions-") as scratch:
        folder = Path(scratch)
        picture = folder / "picture.png"
        with Image(width=1024, height=768, pseudo="plasma:fractal") as image:
            image.save(filename=str(picture))
        if args.paging_only:
            bench_paging(folder, picture, args.rounds, args.captions)
            return
        print(f"{'case':<24}{'freetype ms':>12}{'pango ms':>10}{'pango/freetype':>16}")
        for width, height in SIZES:
            layout = caption_drawing.caption_layout(width, height, 3)
            background = folder / f"background-{width}.ppm"
            pictures.compose_background(picture, width, height, background)
            target = folder / "page.ppm"

            old = partial(freetype_page, background, layout=layout, target=target)
            new = partial(pango_page, background, layout=layout, target=target)
            old(LATIN), new(LATIN)  # load fonts and ImageMagick's coders before timing
            freetype_times, pango_times = [], []
            for _ in range(args.rounds):
                freetype_times.append(per_page(old, LATIN, args.pages))
                pango_times.append(per_page(new, LATIN, args.pages))
            before, after = statistics.median(freetype_times), statistics.median(pango_times)
            case = f"latin {width}x{height}"
            print(f"{case:<24}{before * 1000:>12.1f}{after * 1000:>10.1f}{after / before:>16.2f}")
            for name, text in OTHERS.items():
                other = partial(pango_page, background, layout=layout, target=target, language="")
                other(text)
                median = statistics.median(
                    per_page(other, text, args.pages) for _ in range(args.rounds)
                )
                print(f"{f'{name} {width}x{height}':<24}{'-':>12}{median * 1000:>10.1f}")
        bench_paging(folder, picture, args.rounds, args.captions)


if __name__ == "__main__":
    main()
