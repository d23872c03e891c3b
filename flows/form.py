"""The run form an operator fills in (the Prefect UI's Run > Custom run): the flow parameters'
types as the form shows them. Values validate exactly as the plain types do; only the JSON
schema differs:

- `creation_id`, `assets_dir`, `out` are plain text fields (format `uuid` for the creation id),
  not a "str | None" choice that starts on None;
- `options` shows its defaults, and its language field names every language and says which the
  narration engines cannot speak.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BeforeValidator, ConfigDict, WithJsonSchema

from services.media.speech import espeak_voice, gtts_language
from services.settings import RenderOptions
from services.story.languages import AUTO, LANGUAGES

CreationIdField = Annotated[
    str | None,
    WithJsonSchema({"type": "string", "format": "uuid", "title": "Creation id"}),
]
FolderField = Annotated[str | None, WithJsonSchema({"type": "string", "title": "Story folder"})]
OutField = Annotated[str | None, WithJsonSchema({"type": "string", "title": "Video file"})]


def _named(tags: list[str]) -> str:
    return ", ".join(f"{tag} {LANGUAGES[tag]}" for tag in tags)


def language_help() -> str:
    """Every language by name, and the ones each engine cannot speak (a run that asks for one
    stops before anything renders, with a one-line reason)."""
    no_espeak = [tag for tag in sorted(LANGUAGES) if espeak_voice(tag) is None]
    no_gtts = [tag for tag in sorted(LANGUAGES) if gtts_language(tag) is None]
    return (
        f"Narration language. {AUTO}: read off the captions' script, else TTS_LANGUAGE. "
        f"A region may follow a code (en-GB, pt-BR, zh-TW). "
        f"espeak (local workers) cannot speak {_named(no_espeak)}; "
        f"gtts (production) cannot speak {_named(no_gtts)}; "
        f"a run asking for one stops before rendering. Codes: {_named(sorted(LANGUAGES))}."
    )


def _form_schema(schema: dict[str, Any]) -> None:
    properties = schema.get("properties", {})
    if "language" in properties:
        properties["language"]["description"] = language_help()


class FormOptions(RenderOptions):
    """How one video is rendered: size, frame rate and encoding, captions, narration, music.
    Fields left out take the defaults shown (a deployment may set its own)."""

    model_config = ConfigDict(title="Render options", json_schema_extra=_form_schema)


def _options_or_defaults(value: object) -> object:
    # A run saved with `options: null` (or a caller passing None) renders with the defaults;
    # plain RenderOptions (the command line's) are taken as they are.
    if value is None:
        return FormOptions()
    if isinstance(value, RenderOptions) and not isinstance(value, FormOptions):
        return FormOptions.model_validate(value.model_dump())
    return value


# The form starts from these (each field's default), unless the deployment sets its own.
DEFAULT_OPTIONS = FormOptions()

if TYPE_CHECKING:  # what the flow's code handles; the form (below) is the same, validated
    OptionsField = RenderOptions | None
else:
    OptionsField = Annotated[FormOptions, BeforeValidator(_options_or_defaults)]
