"""cloud.learning loads without the web or MQTT stack (import-linter checks the source;
this checks what actually gets imported at run time, including via device_agent)."""

from __future__ import annotations

import subprocess
import sys


def test_importing_learning_loads_no_web_or_mqtt_package() -> None:
    code = (
        "import sys, cloud.learning\n"
        "print(sorted({'fastapi', 'paho', 'aiomqtt', 'uvicorn'} & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
