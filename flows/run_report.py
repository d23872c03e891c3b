"""What the Prefect UI shows of a run besides its log: a progress bar that moves while the run
works, and at the end a link to the video and a summary (or, on failure, the reason).

Artifacts are keyed per creation (or story folder), so the Artifacts page holds each creation's
history under three keys: `progress-<who>`, `video-<who>` and `summary-<who>`. Reporting is
best effort: an artifact that cannot be written is logged and never fails a render.

Progress is a percentage of the run's work: checking the story 5, the parts 85 (each part's four
steps, drawn, narrated, encoded, kept, a share each; a re-used part all four at once), assembly 7,
publishing 3.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from services.settings import RenderOptions, Settings
from services.stages import AssembledVideo
from services.storage.sources import RenderTarget
from services.story.languages import language_name

CHECKED, PARTS, ASSEMBLED = 5.0, 85.0, 7.0
PART_STEPS = ("drawn", "narrated", "encoded", "kept")


def artifact_slug(creation_id: str | None, assets_dir: str | None) -> str:
    """Lowercase letters, digits and dashes (what Prefect allows in a key), at most 60."""
    text = creation_id or (assets_dir or "").rstrip("/").rsplit("/", 1)[-1] or "no-story"
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60].strip("-")
    return slug or "no-story"


def _quietly(logger: Any, what: str, action: Callable[[], Any]) -> Any:
    try:
        return action()
    except Exception as error:  # noqa: BLE001 - the UI's view must never fail a render
        logger.warning("could not %s in the Prefect UI: %s", what, error)
        return None


class RunProgress:
    """The run's progress artifact (`progress-<who>`), moved as the run goes."""

    def __init__(self, slug: str, logger: Any):
        self.key = f"progress-{slug}"
        self.logger = logger
        self.percent = 0.0
        self.parts = 0
        self.steps_done: dict[int, set[str]] = {}
        self._id: UUID | None = None
        self._shown = -1

    def start(self) -> None:
        from prefect.artifacts import create_progress_artifact

        self._id = _quietly(
            self.logger,
            "create the progress bar",
            lambda: create_progress_artifact(0.0, key=self.key, description="checking the story"),
        )
        self._shown = 0

    def _show(self, percent: float, description: str, *, force: bool = False) -> None:
        self.percent = max(self.percent, min(100.0, percent))
        if self._id is None or (int(self.percent) == self._shown and not force):
            return
        from prefect.artifacts import update_progress_artifact

        artifact_id = self._id
        shown = round(self.percent, 1)
        _quietly(
            self.logger,
            "move the progress bar",
            lambda: update_progress_artifact(artifact_id, shown, description=description),
        )
        self._shown = int(self.percent)

    def checked(self, parts: int) -> None:
        self.parts = parts
        self._show(CHECKED, f"story checked: {parts} part(s)")

    def part_step(self, part: int, step: str) -> None:
        """One of PART_STEPS done for a part ("reused": all of them)."""
        done = self.steps_done.setdefault(part, set())
        done.update(PART_STEPS if step == "reused" else {step})
        steps = sum(len(found) for found in self.steps_done.values())
        share = steps / (len(PART_STEPS) * max(self.parts, 1))
        finished = sum(len(found) == len(PART_STEPS) for found in self.steps_done.values())
        self._show(
            CHECKED + PARTS * share, f"parts: {finished}/{self.parts} done (part {part} {step})"
        )

    def assembled(self) -> None:
        self._show(CHECKED + PARTS + ASSEMBLED, "assembled; publishing")

    def published(self) -> None:
        self._show(100.0, "published", force=True)

    def failed(self, reason: str) -> None:
        self._show(self.percent, f"failed at {self.percent:.0f} %: {reason}"[:500], force=True)


@dataclass
class RunSummary:
    """What a finished run made, for the summary artifact."""

    target: RenderTarget
    assembled: AssembledVideo
    options: RenderOptions
    parts: int
    reused: int
    voice: str
    music: str | None


def output_link(target: RenderTarget, name: str, settings: Settings, logger: Any) -> str:
    """A link a browser opens: a signed link for a bucket (as the API answers), falling back to
    the Cloud console's download link (for signed-in operators) when signing is not possible;
    file:// for a local file."""
    location = target.outputs.describe(name)
    if not location.startswith("gs://"):
        from pathlib import Path

        return Path(location).resolve().as_uri()
    bucket, _, prefix = location.removeprefix("gs://").partition("/")
    creation_id = prefix.split("/", 1)[0]
    from services.storage.creation_files import CreationFiles

    files = CreationFiles(bucket, timedelta(seconds=settings.video_link_seconds))
    try:
        link = files.video_link(creation_id, name, check=False)
    except Exception as error:  # noqa: BLE001 - a console link still serves the operator
        logger.warning(
            "could not sign a link to %s (%s); linking the console instead", location, error
        )
        link = None
    return link or f"https://storage.cloud.google.com/{bucket}/{prefix}"


def _clock(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:04.1f}"


def summary_markdown(summary: RunSummary, links: dict[str, str]) -> str:
    target, assembled, options = summary.target, summary.assembled, summary.options
    names = target.names
    rendered = summary.parts - summary.reused
    rows = [
        ("Video", f"[{target.outputs.describe(names.video)}]({links['video']})"),
        (
            "Duration",
            f"{_clock(assembled.duration_seconds)} ({assembled.duration_seconds:.2f} s, "
            f"{assembled.frames} frames at {options.fps} fps)",
        ),
        ("Parts", f"{summary.parts}: {rendered} rendered, {summary.reused} re-used"),
        ("Language", f"{language_name(options.language)}, voice {summary.voice}"),
    ]
    pace = getattr(options, "pace", None)
    if pace is not None:
        rows.append(("Pace", str(pace)))
    rows += [
        (
            "Loudness",
            f"{assembled.loudness.integrated:.1f} LUFS integrated, "
            f"true peak {assembled.loudness.true_peak:.1f} dBTP",
        ),
        ("Chapters", str(len(assembled.chapters))),
        ("Music", summary.music or "none"),
        ("Frame", f"{options.width}x{options.height}, x264 {options.preset} crf {options.crf}"),
        ("Captions", f"{target.outputs.describe(names.srt)}, {target.outputs.describe(names.vtt)}"),
        ("Poster", f"[{target.outputs.describe(names.poster)}]({links['poster']})"),
        ("Record", target.outputs.describe(names.record)),
    ]
    lines = ["## The video is ready", ""]
    if links["poster"].startswith("http"):
        lines += [f"![poster]({links['poster']})", ""]
    lines += ["| | |", "|---|---|", *(f"| {name} | {value} |" for name, value in rows), ""]
    if assembled.chapters:
        lines += ["### Chapters", "", "| # | starts | title |", "|---|---|---|"]
        for number, chapter in enumerate(assembled.chapters, start=1):
            start = chapter.start_frame / options.fps
            title = chapter.title.replace("|", "\\|")
            lines.append(f"| {number} | {_clock(start)} | {title} |")
    return "\n".join(lines) + "\n"


def publish_results(slug: str, summary: RunSummary, settings: Settings, logger: Any) -> None:
    """The link artifact (`video-<who>`) and the summary (`summary-<who>`)."""
    from prefect.artifacts import create_link_artifact, create_markdown_artifact

    names = summary.target.names
    links = {
        "video": output_link(summary.target, names.video, settings, logger),
        "poster": output_link(summary.target, names.poster, settings, logger),
    }
    _quietly(
        logger,
        "link the video",
        lambda: create_link_artifact(
            links["video"],
            link_text=summary.target.outputs.describe(names.video),
            key=f"video-{slug}",
            description="The finished video",
        ),
    )
    _quietly(
        logger,
        "write the summary",
        lambda: create_markdown_artifact(
            summary_markdown(summary, links),
            key=f"summary-{slug}",
            description="What the run made",
        ),
    )


def publish_failure(
    slug: str, reason: str, user_error: bool, record: str | None, logger: Any
) -> None:
    """The summary (`summary-<who>`) of a failed run: the reason, and what to do about it."""
    from prefect.artifacts import create_markdown_artifact

    advice = (
        "Fix what the line above names (the story, a parameter or a setting), then run it again. "
        "Nothing was published: the previous video, if any, is unchanged."
        if user_error
        else "This looks like a fault in the renderer or its machine: the run's log has the "
        "details. Nothing was published: the previous video, if any, is unchanged."
    )
    lines = ["## The video was not made", "", f"**Why:** {reason}", "", advice]
    if record:
        lines += ["", f"The record says so too: {record}"]
    _quietly(
        logger,
        "write the failure",
        lambda: create_markdown_artifact(
            "\n".join(lines) + "\n", key=f"summary-{slug}", description="Why the run failed"
        ),
    )
