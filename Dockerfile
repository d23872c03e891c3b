# syntax=docker/dockerfile:1
# The render image of the generate-video flow: Python 3.12, ffmpeg, ImageMagick (for Wand),
# espeak-ng and fonts, the locked Python packages, and the code in /app. It serves two ways:
#
# - Cloud Run jobs started by the cloud-run-v2 worker: the worker replaces the command with
#   `prefect flow-run execute`, and the deployment's pull step (prefect.yaml) moves into /app.
# - A plain Cloud Run Job, as the predecessor ran: `gcloud run jobs execute <job> --args <id>`
#   runs `python /app/flows/video.py <id>` (ENTRYPOINT + the job's args).
#
# System packages are the runtime list of scripts/setup.sh (APT_PACKAGES; its development and
# test extras, such as ImageMagick's headers and the OCR packages, stay out) and Python packages
# those of requirements.lock; tests/deployment/test_deployment_image.py checks that they stay the same, and
# runs ENTRYPOINT the way this image does.

ARG PYTHON_IMAGE=python:3.12-slim-bookworm

# --- build: the locked Python dependencies, in a virtualenv the runtime stage copies ----------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
COPY requirements.lock /tmp/requirements.lock
RUN /opt/venv/bin/python -m pip install -r /tmp/requirements.lock

# --- runtime ----------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

# Bookworm, like the development machines, so ffmpeg, ImageMagick and espeak-ng are the same
# versions as where the tests ran. Versions are not pinned: security updates should come in.
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        ffmpeg \
        libmagickwand-6.q16-6 \
        imagemagick \
        espeak-ng \
        fonts-dejavu-core \
        fonts-noto-core \
        fonts-noto-cjk \
        fonts-noto-color-emoji \
        fontconfig \
        libpango-1.0-0 \
        libpangocairo-1.0-0 \
        libcairo2 \
        libharfbuzz0b \
        libglib2.0-0 \
        ca-certificates \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 --user-group --shell /usr/sbin/nologin render

COPY --from=build /opt/venv /opt/venv

WORKDIR /app
COPY flows/ /app/flows/
COPY services/ /app/services/
COPY tasks/ /app/tasks/

# ENV=p: production (the creations bucket). PYTHONPATH makes flows, services and tasks
# importable from any working directory. Wand finds ImageMagick's library by its versioned name
# (libMagickWand-6.Q16.so.6, through ldconfig): no MAGICK_HOME, which on Debian's multiarch
# layout would point it at a folder without the library.
# PREFECT_FLOWS_HEARTBEAT_FREQUENCY: a heartbeat every 30 s, also for plain Cloud Run jobs, so a
# run whose machine died is known within the 90 s grace (deployments/automations.yaml, the API).
ENV PATH=/opt/venv/bin:$PATH \
    ENV=p \
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY=30 \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

# By number, so a runtime that checks for a non-root user can tell without /etc/passwd.
USER 10001:10001

ENTRYPOINT ["python", "/app/flows/video.py"]
CMD []
