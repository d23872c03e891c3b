"""The caption font: the file, Pango's name for it, and the language that steers
fontconfig's choice of fallback fonts per script.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from services.media.pictures import ImageProblem
from services.story.scripts import CJK_SCRIPTS, scripts_in

_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf",
)


@lru_cache(maxsize=4)
def caption_font(preferred: str | None = None) -> str:
    """Path of the caption font: CAPTION_FONT if set, else a bold sans with wide Latin coverage."""
    wanted = preferred or os.environ.get("CAPTION_FONT")
    if wanted:
        if Path(wanted).is_file():
            return wanted
        matcher = shutil.which("fc-match")
        if matcher:
            found = subprocess.run(
                [matcher, "-f", "%{file}", wanted], capture_output=True, text=True, check=False
            ).stdout.strip()
            if found and Path(found).is_file():
                return found
        raise ImageProblem(f"caption font {wanted!r} was not found")
    for candidate in _FONT_CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    raise ImageProblem("no caption font installed (fonts-dejavu-core; run scripts/setup.sh)")


@dataclass(frozen=True)
class CaptionFont:
    """The caption font as Pango names it, and the language of the text (a BCP 47 tag or None).

    Characters the font lacks are drawn from other installed fonts, chosen per character by
    fontconfig; the language steers that choice where scripts share characters (Chinese or
    Japanese forms of the same ideograph)."""

    description: str
    language: str | None = None


@lru_cache(maxsize=8)
def pango_font_description(font_file: str) -> str:
    """Pango's name for an installed font file, e.g. "DejaVu Sans, Bold". Pango finds fonts
    through fontconfig only, so the file must be where fontconfig looks."""
    query = shutil.which("fc-query")
    if query is None:
        raise ImageProblem("fontconfig is not installed (no fc-query; run scripts/setup.sh)")
    described = subprocess.run(
        [query, "--index", "0", "--format", "%{family[0]}\t%{style[0]}\n", font_file],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    family, _, style = described.partition("\t")
    if not family:
        raise ImageProblem(f"caption font {font_file!r} is not a font fontconfig can read")
    installed = subprocess.run(
        ["fc-list", "--format", "%{file}\n"], capture_output=True, text=True, check=False
    ).stdout.split("\n")
    known = {Path(name).resolve() for name in installed if name}
    if Path(font_file).resolve() not in known:
        raise ImageProblem(
            f"caption font {font_file!r} is not installed where fontconfig finds fonts "
            f"(copy it to /usr/local/share/fonts and run fc-cache)"
        )
    return f"{family}, {style}" if style else family


# Scripts DejaVu Sans (the default caption font) covers in a plainer design than Noto's, which is
# what readers of these scripts are used to: their Noto family goes first for such captions.
_PREFERRED_FAMILIES = {"Arabic": "Noto Sans Arabic", "Hebrew": "Noto Sans Hebrew"}
_CJK_LANGUAGES = ("zh", "ja", "ko")


def _language_for(scripts: set[str], language: str | None) -> str | None:
    """The language Pango is told: the run's, unless the text is Chinese, Japanese or Korean
    in a run that says otherwise (then the one its script shows): ideographs take its forms."""
    tag = language if language and language != "auto" else None
    if not scripts & CJK_SCRIPTS:
        return tag
    if tag and tag.lower() == "zh":
        return "zh-CN"  # fontconfig reads a bare "zh" as neither simplified nor traditional
    if tag and tag.lower().split("-")[0] in _CJK_LANGUAGES:
        return tag
    if "Kana" in scripts:
        return "ja"
    if "Hangul" in scripts:
        return "ko"
    return "zh-CN"


def caption_text_font(
    text: str = "", language: str | None = None, font_file: str | None = None
) -> CaptionFont:
    """The font for one caption: CAPTION_FONT (or the default), after the Noto family of its
    script where that reads better, and the language Pango should shape it for."""
    description = pango_font_description(font_file or caption_font())
    scripts = scripts_in(text)
    preferred = [family for script, family in _PREFERRED_FAMILIES.items() if script in scripts]
    if preferred:
        description = ", ".join([*preferred, description])
    return CaptionFont(description, _language_for(scripts, language))
