"""A part's clip as one ffmpeg filter graph.

How a part's clip is made (see `build_clip_command`): each page still is decoded once, converted
to yuv420p once and repeated with the `loop` filter (an image input with `-loop 1` would decode the
page again for every frame); stills cross-fade (`overlay` or `blend`, see `_crossfade`); the part
fades in from and out to black. The timeline puts the bare picture between two caption pages, so a
caption change is the old caption fading out, then the new one fading in: never both at once.
Timestamps are pinned to 1/fps with `settb`/`setpts=N` so every frame count is exact.
However many pages a part has, the command line stays the same length: the pages are one input
(a concat list of the page images, split into one stream per page by the `segment` filter) and
the filter graph is read from a file (`-filter_complex_script`). On Linux one argument may not
exceed 128 KiB, which a 3,000-word caption's graph did.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from services.media import zoom
from services.media.ffmpeg import binary, concat_list, ffmpeg, run
from services.settings import RenderOptions


@dataclass(frozen=True)
class StillSegment:
    """One still picture shown for `frames` frames."""

    image: Path
    frames: int


@dataclass(frozen=True)
class ClipPlan:
    """What one part's clip shows, in frames (see services/timeline.py for how it is computed).

    `pages` are the caption pages in order. `crossfades[i]` is the length of the cross-fade between
    page i and page i+1, centred on their boundary (an even number, 0 for a cut).
    With `background` set (zoom on), `pages` are transparent caption bands placed at `band_top`
    over the slowly zooming background; otherwise each page is a full frame.
    """

    pages: list[StillSegment]
    crossfades: list[int]
    fade_frames: int  # the part's fade in from black (and out, unless `fade_out_frames`)
    background: Path | None = None
    band_top: int = 0
    zoom_amount: float = 0.0
    zoom_focus: tuple[float, float] = (0.5, 0.5)  # where the zoom heads, fractions of the frame
    fade_out_frames: int | None = None  # the part's fade out to black, when it differs
    # Held at the zoom's first frame (the title card: the first part's zoom starts after it).
    zoom_still: bool = False

    @property
    def total_frames(self) -> int:
        return sum(page.frames for page in self.pages)

    @property
    def fade_out(self) -> int:
        return self.fade_frames if self.fade_out_frames is None else self.fade_out_frames


def _page_chain(plan: ClipPlan, pixel_format: str, sources: list[str], fps: int) -> tuple[str, str]:
    """Filters that turn the page streams (`sources`, one label per page) into one stream of
    pages joined by cross-fades.

    The stream is a row of segments joined with `concat`: each page's still on its own, and
    between two pages a short cross-fade made from just the frames it spans (`_crossfade`).
    """
    filters: list[str] = []
    count = len(plan.pages)
    halves = [fade // 2 for fade in plan.crossfades]
    uses: list[list[str]] = []  # for each page, the labels of the copies its segments need
    for index, page in enumerate(plan.pages):
        before = halves[index - 1] if index > 0 else 0
        after = halves[index] if index < count - 1 else 0
        body = page.frames - before - after
        labels = []
        if body > 0:
            labels.append(f"body{index}")
        if before:
            labels.append(f"into{index}")
        if after:
            labels.append(f"from{index}")
        uses.append(labels)
        still = f"[{sources[index]}]format={pixel_format}"
        copies = "".join(f"[{label}src]" for label in labels)
        filters.append(
            f"{still},split={len(labels)}{copies}" if len(labels) > 1 else f"{still}{copies}"
        )
        if body > 0:
            filters.append(_repeat(f"body{index}src", body, fps, f"body{index}"))

    segments: list[str] = []
    for index in range(count):
        if f"body{index}" in uses[index]:
            segments.append(f"body{index}")
        if index < count - 1 and plan.crossfades[index]:
            filters.append(_crossfade(index, plan.crossfades[index], pixel_format, fps))
            segments.append(f"cross{index}")
    if len(segments) == 1:
        return ";".join(filters), segments[0]
    joined = "".join(f"[{segment}]" for segment in segments)
    filters.append(f"{joined}concat=n={len(segments)}:v=1:a=0,settb=1/{fps},setpts=N[pages]")
    return ";".join(filters), "pages"


def _crossfade(index: int, frames: int, pixel_format: str, fps: int) -> str:
    """Page `index` fading into the next over `frames` frames, as `cross{index}`: frame i shows
    i/frames of the next page, as `xfade`'s fade does (`xfade` in ffmpeg 5.1 only mixes 4:4:4
    or RGB, so it converts every frame there and back, at 4-5 ms a full frame).

    Full pages (yuv420p): the next page gets an alpha plane once, fades it in (`fade` on alpha
    only) and is laid over the page (`overlay`). Transparent caption bands (yuva420p): all four
    planes are mixed, transparency too, by `blend` with its opacity set per frame."""
    leaving = f"from{index}src"
    coming = f"into{index + 1}src"
    if pixel_format == "yuv420p":
        return ";".join(
            [
                _repeat(leaving, frames, fps, f"fadeout{index}"),
                f"[{coming}]format=yuva420p[{coming}a]",
                _repeat(f"{coming}a", frames, fps, f"fadein{index}raw"),
                f"[fadein{index}raw]fade=t=in:s=0:n={frames}:alpha=1[fadein{index}]",
                f"[fadeout{index}][fadein{index}]overlay=format=yuv420[cross{index}]",
            ]
        )
    mixer = f"blend@cross{index}"
    opacities = ";".join(
        f"{max(0.0, (frame - 0.5) / fps):.6f} {mixer} all_opacity {1 - frame / frames:.6f}"
        for frame in range(frames)
    )
    return ";".join(
        [
            _repeat(leaving, frames, fps, f"fadeout{index}raw"),
            f"[fadeout{index}raw]sendcmd=c='{opacities}'[fadeout{index}]",
            _repeat(coming, frames, fps, f"fadein{index}"),
            f"[fadeout{index}][fadein{index}]{mixer}=all_mode=normal:all_opacity=1[cross{index}]",
        ]
    )


def _repeat(source: str, frames: int, fps: int, label: str) -> str:
    """A still repeated for `frames` frames, with timestamps pinned to 1/fps."""
    return f"[{source}]loop=loop={frames - 1}:size=1,settb=1/{fps},setpts=N[{label}]"


def _run_zoom_steps(
    plan: ClipPlan, options: RenderOptions, first_frame: int, part_frames: int | None
) -> list[zoom.ZoomStep]:
    """The zoom's steps for this run's frames: a run that starts at `first_frame` of a part of
    `part_frames` gets that stretch of the part's zoom."""
    part_frames = plan.total_frames if part_frames is None else part_frames
    canvas = zoom.zoom_canvas(options.width, options.height, plan.zoom_amount)
    amount = 0.0 if plan.zoom_still else plan.zoom_amount
    steps = zoom.aimed_steps(canvas, part_frames, amount, plan.zoom_focus)
    return steps[first_frame : first_frame + plan.total_frames]


def zoom_commands(
    plan: ClipPlan, options: RenderOptions, first_frame: int = 0, part_frames: int | None = None
) -> str:
    """The zoom's crops as `sendcmd` commands: each frame's crop size and where the frame sits in
    the scaled picture (services/zoom.py; the scaled sizes are in `_zoom_filters`).

    ffmpeg's `crop` takes its size only from a command, so the sizes go in one command file;
    each line fires half a frame before its frame, so rounding never delays it a frame."""
    canvas = zoom.zoom_canvas(options.width, options.height, plan.zoom_amount)
    lines = []
    for frame, step in enumerate(_run_zoom_steps(plan, options, first_frame, part_frames)):
        start = max(0.0, (frame - 0.5) / options.fps)
        crop_x, crop_y, frame_x, frame_y = zoom.offsets(canvas, step)
        lines.append(
            f"{start:.6f} crop@zoomcrop w {step.crop_width}, crop@zoomcrop h {step.crop_height}, "
            f"crop@zoomcrop x {crop_x}, crop@zoomcrop y {crop_y}, "
            f"crop@zoomframe x {frame_x}, crop@zoomframe y {frame_y};\n"
        )
    return "".join(lines)


def _by_frame(values: list[int]) -> str:
    """An expression of the frame number `n` that is values[n] (escaped for the graph): a
    balanced tree of comparisons, each stretch of equal values one leaf."""

    def pick(low: int, high: int) -> str:
        if all(value == values[low] for value in values[low:high]):
            return str(values[low])
        middle = (low + high) // 2
        return f"if(lt(n\\,{middle})\\,{pick(low, middle)}\\,{pick(middle, high)})"

    return pick(0, len(values))


def _zoom_filters(
    plan: ClipPlan,
    options: RenderOptions,
    commands: Path,
    first_frame: int = 0,
    part_frames: int | None = None,
) -> str:
    """The zooming background: the canvas still, repeated, then per frame a centred crop, a
    scale and the centred frame (`zoom_commands` sets the crops; the sizes here are the first
    frame's, replaced before any frame passes).

    Every new size makes `scale` build a new scaler, so it should build one per frame, not one per
    command: its sizes are expressions of the frame number, evaluated per frame, rather than two
    commands. With the filter's default threads (one per core) each build would also start a pool
    of threads and a scaler per thread, which cost more than the scaling itself; a
    single-threaded scaler gives the same pixels for about half the CPU (the encoder keeps the
    cores busy anyway)."""
    canvas = zoom.zoom_canvas(options.width, options.height, plan.zoom_amount)
    steps = _run_zoom_steps(plan, options, first_frame, part_frames)
    widths = _by_frame([step.scale_width for step in steps])
    heights = _by_frame([step.scale_height for step in steps])
    fps = options.fps
    return (
        f"[0:v]{to_video_colours('yuv420p')},"
        f"loop=loop={plan.total_frames - 1}:size=1,settb=1/{fps},setpts=N,"
        f"sendcmd=f={_filter_path(commands)},"
        f"crop@zoomcrop=w={canvas.view_width}:h={canvas.view_height},"
        f"scale@zoomscale=w={widths}:h={heights}:eval=frame:flags=bicubic:threads=1,"
        f"crop@zoomframe=w={options.width}:h={options.height}:x=0:y=0[background]"
    )


def _filter_path(path: Path) -> str:
    """A file name as a filter option value: escaped for the option, then for the graph."""
    value = str(path)
    for special in ("\\", "'", ":"):
        value = value.replace(special, "\\" + special)
    for special in ("\\", "'", "[", "]", ",", ";"):
        value = value.replace(special, "\\" + special)
    return value


def zoom_commands_path(target: Path) -> Path:
    return target.with_name(target.stem + ".zoom-commands.txt")


# Pictures are sRGB; video players convert to RGB with the BT.709 matrix for HD sizes (and
# browsers for all sizes), and ffmpeg's default is BT.601: red (200,40,40) played back as
# (214,55,36). So the conversion is BT.709, limited range, and the stream says so (`COLOUR_TAGS`).
COLOUR_TAGS = [
    *["-colorspace", "bt709", "-color_primaries", "bt709"],
    *["-color_trc", "bt709", "-color_range", "tv"],
]


def to_video_colours(pixel_format: str) -> str:
    """The filter that turns RGB pictures into `pixel_format` with the BT.709 matrix."""
    return f"scale=out_color_matrix=bt709:out_range=tv,format={pixel_format}"


def _split_pages(page_input: int, count: int, pixel_format: str) -> tuple[list[str], list[str]]:
    """Filters that convert the one input holding every page image to `pixel_format` (once, with
    one scaler, not one per page) and split it into a stream per page; and those streams' labels."""
    converted = f"[{page_input}:v]{to_video_colours(pixel_format)}"
    if count == 1:
        return [f"{converted}[page0]"], ["page0"]
    labels = [f"page{index}" for index in range(count)]
    cuts = "|".join(str(index) for index in range(1, count))
    outputs = "".join(f"[{label}]" for label in labels)
    return [f"{converted},segment=frames={cuts}{outputs}"], labels


def image_list(images: list[Path]) -> str:
    """The concat demuxer's list of still images, in order: one input however many there are."""
    lines = []
    for path in images:
        quoted = str(path.resolve()).replace("'", r"'\''")
        lines.append(f"file '{quoted}'\n")
    return "".join(lines)


@dataclass(frozen=True)
class ClipCommand:
    """ffmpeg arguments (without the binary) and the files they name, to be written first."""

    args: list[str]
    files: dict[Path, str]


def build_clip_command(
    plan: ClipPlan,
    options: RenderOptions,
    target: Path,
    first_frame: int = 0,
    part_frames: int | None = None,
) -> ClipCommand:
    """The ffmpeg run that encodes one part's silent clip to `target`. The page list and the
    filter graph are files beside the target, so the arguments do not grow with the pages.

    A long part is rendered in several runs (see `split_plan`): `plan` is then one run's pages,
    starting at `first_frame` of a part of `part_frames`; the part's fades and zoom stay the
    part's."""
    fps = options.fps
    part_frames = plan.total_frames if part_frames is None else part_frames
    page_list = target.with_name(f"{target.stem}.pages.txt")
    graph_file = target.with_name(f"{target.stem}.filter.txt")
    inputs: list[str] = []
    filters: list[str] = []
    if plan.background is not None:
        inputs += ["-framerate", str(fps), "-i", str(plan.background)]
        inputs += ["-f", "concat", "-safe", "0", "-i", str(page_list)]
        splits, sources = _split_pages(1, len(plan.pages), "yuva420p")
        filters += splits
        chain, bands = _page_chain(plan, "yuva420p", sources, fps=fps)
        filters.append(chain)
        filters.append(
            _zoom_filters(plan, options, zoom_commands_path(target), first_frame, part_frames)
        )
        filters.append(f"[background][{bands}]overlay=0:{plan.band_top}:format=yuv420[composed]")
        current = "composed"
    else:
        inputs += ["-f", "concat", "-safe", "0", "-i", str(page_list)]
        splits, sources = _split_pages(0, len(plan.pages), "yuv420p")
        filters += splits
        chain, current = _page_chain(plan, "yuv420p", sources, fps=fps)
        filters.append(chain)

    last = plan.total_frames
    fades = []
    if plan.fade_frames > 0 and first_frame == 0:
        fades.append(f"fade=t=in:s=0:n={plan.fade_frames}")
    if plan.fade_out > 0 and first_frame + last == part_frames:
        fades.append(f"fade=t=out:s={last - plan.fade_out}:n={plan.fade_out}")
    tail = ",".join([*fades, "format=yuv420p"])
    filters.append(f"[{current}]{tail}[video]")

    args = [
        *inputs,
        "-filter_complex_script",
        str(graph_file),
        "-map",
        "[video]",
        "-frames:v",
        str(last),
        "-r",
        str(fps),
        "-c:v",
        "libx264",
        "-preset",
        options.preset,
        "-crf",
        str(options.crf),
        "-pix_fmt",
        "yuv420p",
        *COLOUR_TAGS,
        "-an",
        str(target),
    ]
    files = {
        page_list: image_list([page.image for page in plan.pages]),
        graph_file: ";\n".join(filters) + "\n",
    }
    if plan.background is not None:
        files[zoom_commands_path(target)] = zoom_commands(plan, options, first_frame, part_frames)
    return ClipCommand(args=args, files=files)


# ffmpeg 5.1 looks through every filter of a graph to pick the next one to run, so a graph's
# cost per frame grows with its pages, and so does its memory. Measured with bench/long_part.py
# (240x360, 20 frames a page; a busy 2-core machine): 1,000 pages in one run took 56-79 s and
# 2.2 GB, in runs of 64 pages 30 s and 196 MB; 100 pages, 3.7 s either way.
MAX_PAGES_PER_RUN = 64


def split_plan(plan: ClipPlan, max_pages: int) -> list[tuple[ClipPlan, int]]:
    """A part's plan as runs of at most about `max_pages` pages, each with the frame it starts
    at. A run ends inside a page's still stretch (never in a cross-fade or a part fade): that
    page ends one run and begins the next, so the joined clip is frame for frame the same."""
    count = len(plan.pages)
    if count <= max_pages:
        return [(plan, 0)]
    runs: list[tuple[ClipPlan, int]] = []
    pages: list[StillSegment] = []
    fades: list[int] = []
    start = 0  # the part's frame where the current run starts
    for index, page in enumerate(plan.pages):
        if pages:
            fades.append(plan.crossfades[index - 1])
        pages.append(page)
        before = plan.crossfades[index - 1] // 2 if index else 0
        after = plan.crossfades[index] // 2 if index < count - 1 else 0
        body = page.frames - before - after
        cut = before + body // 2
        at = start + sum(p.frames for p in pages[:-1]) + cut  # the cut, in the part's frames
        if (
            len(pages) >= max_pages
            and index < count - 1
            and body >= 2
            and plan.fade_frames <= at <= plan.total_frames - plan.fade_out
        ):
            pages[-1] = StillSegment(image=page.image, frames=cut)
            runs.append((_with_pages(plan, pages, fades), start))
            start = at
            pages = [StillSegment(image=page.image, frames=page.frames - cut)]
            fades = []
    runs.append((_with_pages(plan, pages, fades), start))
    return runs


def _with_pages(plan: ClipPlan, pages: list[StillSegment], crossfades: list[int]) -> ClipPlan:
    return ClipPlan(
        pages=pages,
        crossfades=crossfades,
        fade_frames=plan.fade_frames,
        background=plan.background,
        band_top=plan.band_top,
        zoom_amount=plan.zoom_amount,
        zoom_focus=plan.zoom_focus,
        fade_out_frames=plan.fade_out_frames,
        zoom_still=plan.zoom_still,
    )


def _encode(command: ClipCommand, what: str) -> None:
    for path, text in command.files.items():
        path.write_text(text, encoding="utf-8")
    run([binary("FFMPEG_BINARY", "ffmpeg"), "-hide_banner", "-nostdin", "-y", *command.args], what)


def encode_clip(plan: ClipPlan, options: RenderOptions, target: Path, what: str) -> None:
    """One part's silent clip: one ffmpeg run, or for a long part several joined without
    re-encoding."""
    runs = split_plan(plan, MAX_PAGES_PER_RUN)
    if len(runs) == 1:
        _encode(build_clip_command(plan, options, target), what)
        return
    pieces: list[tuple[Path, int]] = []
    for index, (piece_plan, first_frame) in enumerate(runs):
        piece = target.with_name(f"{target.stem}.{index:04d}{target.suffix}")
        command = build_clip_command(piece_plan, options, piece, first_frame, plan.total_frames)
        _encode(command, f"{what} (run {index + 1} of {len(runs)})")
        pieces.append((piece, piece_plan.total_frames))
    listing = target.with_name(f"{target.stem}.pieces.txt")
    listing.write_text(concat_list(pieces, options.fps), encoding="utf-8")
    ffmpeg(
        *["-f", "concat", "-safe", "0", "-i", str(listing), "-map", "0:v:0", "-c", "copy"],
        *["-f", "mp4", str(target)],
        what=f"{what} (joining {len(pieces)} runs)",
    )
    for piece, _ in pieces:
        piece.unlink(missing_ok=True)
