"""The render key's code part: which project modules the stages import, found from their source."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.media import render_identity
from services.media.render_identity import code_digest, code_modules


def write(root: Path, name: str, text: str = "") -> None:
    path = root.joinpath(*name.split("."))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_suffix(".py").write_text(text)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for package in ("services", "services.media", "tasks"):
        write(tmp_path, f"{package}.__init__")
    write(
        tmp_path,
        "tasks.draw",
        "import json\n"
        "from services.media import pens\n"
        "def later():\n"
        "    from services.media.inks import BLACK  # imported only when it runs\n",
    )
    write(tmp_path, "services.media.pens", "from . import nibs\n")
    write(tmp_path, "services.media.nibs")
    write(tmp_path, "services.media.inks", "BLACK = 0\n")
    write(tmp_path, "services.media.unused")
    return tmp_path


def test_the_stages_modules_are_found_at_any_depth_inside_functions_and_relative(
    tree: Path,
) -> None:
    assert set(code_modules(["tasks.draw"], tree)) == {
        "tasks",
        "tasks.draw",
        "services",
        "services.media",
        "services.media.pens",
        "services.media.nibs",  # relative, one module further
        "services.media.inks",  # inside a function
    }


def test_a_change_to_any_of_them_changes_the_digest_and_others_do_not(tree: Path) -> None:
    before = code_digest.__wrapped__(("tasks.draw",), tree)
    (tree / "services" / "media" / "unused.py").write_text("X = 1\n")
    assert code_digest.__wrapped__(("tasks.draw",), tree) == before
    (tree / "services" / "media" / "nibs.py").write_text("WIDTH = 2\n")
    assert code_digest.__wrapped__(("tasks.draw",), tree) != before


def test_a_stage_that_is_not_there_is_an_error(tree: Path) -> None:
    with pytest.raises(ValueError, match="tasks.paint is not a module"):
        code_modules(["tasks.paint"], tree)


def test_the_real_stages_reach_the_modules_that_draw_speak_and_encode() -> None:
    part = code_modules(render_identity.PART_STAGES)
    story = code_modules(render_identity.STORY_STAGES)
    for name in (
        "services.media.caption_drawing",
        "services.media.pango_text",
        "services.media.pictures",
        "services.media.clip_graph",
        "services.media.speech",
        "services.media.narration_track",
        "services.story.paging",
        "services.timeline",
    ):
        assert name in part
    for name in ("services.media.mux", "services.media.soundtrack", "tasks.soundtrack"):
        assert name in story
