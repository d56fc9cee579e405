"""Started by every Python process of a CI run at a pinned moment (``.ci/run`` puts this folder
on PYTHONPATH): the wall clock the process sees starts at DEEPALPHA_CI_NOW and runs on. Only the
calendar moves; the monotonic clock, sleeps and timeouts stay real."""

import os

_now = os.environ.get("DEEPALPHA_CI_NOW")
if _now:
    import time_machine

    time_machine.travel(_now, tick=True).start()
