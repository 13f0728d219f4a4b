"""A pipeline whose task talks, fails once, then waits for the test before finishing."""

from __future__ import annotations

import time
from pathlib import Path

import dagwell as dw


@dw.task(retries=1)
def talk(flag: str) -> str:
    attempt = dw.current().attempt
    print(f"attempt {attempt} starts", flush=True)
    if attempt == 1:
        raise ValueError("first try fails")
    print("waiting for the flag", flush=True)
    while not Path(flag).exists():
        time.sleep(0.05)
    print("done, no newline", end="", flush=True)
    return "ok"


@dw.pipeline
def talker(flag: str = "") -> str:
    return talk(flag)
