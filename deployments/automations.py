"""Create or update the automations in deployments/automations.yaml on the Prefect server that
PREFECT_API_URL names; by name, so running it twice leaves one of each.

    python deployments/automations.py [deployments/automations.yaml]
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml
from prefect import get_client
from prefect.events.schemas.automations import AutomationCore

FILE = Path(__file__).with_name("automations.yaml")


def apply(path: Path = FILE) -> list[str]:
    """Each automation of the file, created or brought up to date; the lines to print."""
    wanted = [
        AutomationCore.model_validate(entry)
        for entry in yaml.safe_load(path.read_text(encoding="utf-8"))["automations"]
    ]
    done = []
    with get_client(sync_client=True) as client:
        for automation in wanted:
            existing = client.read_automations_by_name(automation.name)
            if existing:
                client.update_automation(existing[0].id, automation)
                for extra in existing[1:]:  # left by an earlier, non-idempotent setup
                    client.delete_automation(extra.id)
                done.append(f"automation {automation.name!r} updated")
            else:
                client.create_automation(automation)
                done.append(f"automation {automation.name!r} created")
    return done


if __name__ == "__main__":
    for line in apply(Path(sys.argv[1]) if len(sys.argv) > 1 else FILE):
        print(line)
