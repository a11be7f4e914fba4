"""How the user-facing commands end: flush stdout and stderr, then ``os._exit(code)``.

An interpreter that exits normally after pyarrow ran its thread pools aborts now and then in
pyarrow's C++ teardown ("terminate called without an active exception", exit 134 / -6)
after everything was written: upstream, apache/arrow#34314; seen here with pyarrow 26.0.1 on
the host's full wheel and on the Lambda layer alike (docs/decisions.md, "pyarrow at
interpreter exit"). A command's exit code is its answer (0, 1, 2), so the commands skip the
interpreter's teardown, as the local Lambda worker does (Lambda never runs it either); it
also saves the seconds of tearing down moto's object graph after the local run's summary.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn


def exit_now(code: int) -> NoReturn:
    """End the process with ``code`` once stdout and stderr are flushed."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
