"""`git push -o ...`: the push options this server knows, read from git's hook environment.

git hands a receive hook the options as GIT_PUSH_OPTION_COUNT and GIT_PUSH_OPTION_0..N-1 (only
when the server advertises them: `receive.advertisePushOptions`, see `web/git_http.py`).
pre-receive refuses a push with an option it does not know, so a typo is not silently ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

MAX_WAIT_S = 60
MAX_OPTIONS = 16  # each is an env variable of git's; a push needs two at most
VALID = (f"wait=N (0-{MAX_WAIT_S}: seconds to wait for the verdict)",
         "notify=none (no report mail for this push)")
_WAIT_RE = re.compile(r"\d{1,3}")


class PushOptionError(Exception):
    """An option the server does not know, or a bad value; str(exc) is for the pusher."""


@dataclass(frozen=True)
class PushOptions:
    """What the pusher asked for; None/True: the server's settings."""
    wait_s: float | None = None
    notify: bool = True


def _refuse(text: str) -> PushOptionError:
    return PushOptionError(f"{text}. Push options this server knows: {'; '.join(VALID)}.")


def parse(env: Mapping[str, str]) -> PushOptions:
    """The push's options from git's hook environment; PushOptionError for unknown ones."""
    try:
        count = int(env.get("GIT_PUSH_OPTION_COUNT") or 0)
    except ValueError:
        count = 0
    if count > MAX_OPTIONS:
        raise _refuse(f"{count} push options; at most {MAX_OPTIONS}")
    wait: float | None = None
    notify = True
    for index in range(count):
        option = env.get(f"GIT_PUSH_OPTION_{index}", "")
        name, _, value = option.partition("=")
        if name == "wait" and _WAIT_RE.fullmatch(value) and int(value) <= MAX_WAIT_S:
            wait = float(value)
        elif name == "wait":
            raise _refuse(f"push option {option[:40]!r}: wait takes whole seconds, "
                          f"0 to {MAX_WAIT_S}")
        elif option == "notify=none":
            notify = False
        else:
            raise _refuse(f"unknown push option {option[:40]!r}")
    return PushOptions(wait_s=wait, notify=notify)
