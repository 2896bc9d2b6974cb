"""Validates Watchlight's discovery documents with Home Assistant's own MQTT schemas.

Usage: python validate.py docs.json   (a JSON list of {"topic", "payload"})
Needs a Python with `homeassistant` and `paho-mqtt` installed (see docs/care.md).
Each payload is checked with the platform's DISCOVERY_SCHEMA (what discovery runs) and its
PLATFORM_SCHEMA_MODERN (which, unlike discovery, also refuses unknown keys).
"""
import importlib
import json
import sys

import voluptuous as vol

# Loads the core the way Home Assistant starts (importing an integration alone trips an
# import cycle between http, websocket_api and persistent_notification).
import homeassistant.bootstrap  # noqa: F401

COMPONENTS = ["binary_sensor", "sensor", "switch", "image", "alarm_control_panel"]


def main() -> int:
    docs = json.load(open(sys.argv[1]))
    platforms = {
        c: importlib.import_module(f"homeassistant.components.mqtt.{c}") for c in COMPONENTS
    }
    failures = 0
    for doc in docs:
        component = doc["topic"].split("/")[1]
        module = platforms[component]
        bad = False
        for name in ("DISCOVERY_SCHEMA", "PLATFORM_SCHEMA_MODERN"):
            try:
                getattr(module, name)(dict(doc["payload"]))
            except vol.Invalid as e:
                bad = True
                print(f"INVALID {doc['topic']} ({name}): {e}")
        if bad:
            failures += 1
        else:
            print(f"ok {doc['topic']}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
