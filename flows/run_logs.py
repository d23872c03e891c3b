"""What a run's log shows: the flow's own lines, failures, and not Prefect's routine chatter.

Two logging filters on Prefect's run loggers (`prefect.flow_runs`, `prefect.task_runs`), in the
process that runs the flow (the command line or a worker's flow-run process), and so in every
handler beneath them (the console and the run's log in the UI):

- a task that finished as it should ("Finished in state Completed()", about 37 lines a run) is
  dropped; a task that failed, crashed or was cancelled still logs, at ERROR;
- a failure that is the story's or the setup's (a bad part, a missing creation, a setting, no
  credentials: `is_user_error`) is logged as one line, its reason, without a traceback. Any
  other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import logging

from pydantic import ValidationError

from services.media.pictures import ImageProblem
from services.media.soundtrack import MusicProblem
from services.media.speech import SpeechError
from services.storage.base import StorageError
from services.story.languages import LanguageError
from services.story.model import StoryError

RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")


class InputError(ValueError):
    """The run's parameters or settings cannot be used (which story, where its outputs go)."""


# Problems a person fixes in the story, the parameters or the setup, not in the code.
USER_ERRORS: tuple[type[BaseException], ...] = (
    StoryError,
    LanguageError,
    ImageProblem,
    MusicProblem,
    StorageError,
    InputError,
    ValidationError,
)


def is_user_error(error: BaseException) -> bool:
    if isinstance(error, USER_ERRORS):
        return True
    if isinstance(error, SpeechError):
        return not getattr(error, "transient", False)
    module = type(error).__module__
    return module.startswith("google.auth")  # no or unusable credentials: the setup's


def one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


class RoutineChatter(logging.Filter):
    """Drops "Finished in state Completed()" of tasks; keeps everything else."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO or not record.name.startswith("prefect.task_runs"):
            return True
        return not record.getMessage().startswith("Finished in state Completed(")


class UserErrorsWithoutTraceback(logging.Filter):
    """A story or setup problem: its reason on one line, no traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and is_user_error(error):
            stage = "run" if record.name.startswith("prefect.flow_runs") else "task"
            record.msg, record.args = "%s stopped: %s", (stage, one_line(error))
            record.exc_info, record.exc_text = None, None
        return True


_FILTERS = (RoutineChatter(), UserErrorsWithoutTraceback())


def configure_run_logging() -> None:
    """Install the filters on Prefect's run loggers (once; calling again changes nothing)."""
    for name in RUN_LOGGERS:
        logger = logging.getLogger(name)
        for chosen in _FILTERS:
            if chosen not in logger.filters:
                logger.addFilter(chosen)
