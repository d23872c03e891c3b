"""Fill in the Cloud Run work pool's base job template for one GCP project.

    GCP_PROJECT=my-project python deployments/pool_template.py > build/cloud-run-pool.json

`cloud-run-v2.job-template.json` holds `${NAME}` placeholders for what differs between projects:
GCP_PROJECT and CREATIONS_BUCKET (required), GCP_REGION (default below). Everything else (CPU,
memory, timeout, retries, ENV=p) is fixed in the template. Standard library only.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

TEMPLATE = Path(__file__).with_name("cloud-run-v2.job-template.json")
DEFAULTS = {
    "GCP_REGION": "us-east1",  # beside the predecessor's bucket (…-usea1-…)
    # CREATIONS_BUCKET has no default: a pool must name its bucket, never get production's.
}
_PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")


def render_template(environ: Mapping[str, str], template: Path = TEMPLATE) -> dict[str, Any]:
    """The base job template with every ${NAME} replaced; a missing name is an error."""
    values = {**DEFAULTS, **{key: value for key, value in environ.items() if value}}
    text = template.read_text(encoding="utf-8")
    missing = sorted({name for name in _PLACEHOLDER.findall(text) if name not in values})
    if missing:
        raise SystemExit(f"error: set {', '.join(missing)} (used by {template.name})")
    return json.loads(_PLACEHOLDER.sub(lambda match: values[match.group(1)], text))


def main(argv: list[str]) -> int:
    rendered = render_template(os.environ)
    text = json.dumps(rendered, indent=2) + "\n"
    if len(argv) > 1:
        Path(argv[1]).parent.mkdir(parents=True, exist_ok=True)
        Path(argv[1]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
