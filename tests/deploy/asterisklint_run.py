"""Run asterisklint with the one application it does not know: ``AMD`` (app_amd).

asterisklint 0.4 ships a list of known dialplan applications without app_amd, so it reports
``E_APP_MISSING: app 'AMD' does not exist`` for a valid Asterisk 22 dialplan. Silencing
``E_APP_MISSING`` through ``ALINT_IGNORE`` would hide every misspelt application too, so this
driver registers exactly ``AMD`` with asterisklint's application loader, then runs the requested
asterisklint command unchanged. Usage: ``python -m tests.deploy.asterisklint_run dialplan-check
asterisk_conf/extensions.conf``. Exit status is asterisklint's (1 when anything was reported).
"""

from __future__ import annotations

import os
import sys

from asterisklint.app.base import AppBase
from asterisklint.application import AppLoader
from asterisklint.main import main as asterisklint_main

#: Applications Asterisk 22 has and asterisklint 0.4 does not know. Keep this list minimal.
UNKNOWN_TO_ASTERISKLINT = ("AMD",)


def run(argv: list[str]) -> int:
    loader = AppLoader()
    for name in UNKNOWN_TO_ASTERISKLINT:
        loader.register(type(name, (AppBase,), {})())
    code = asterisklint_main(argv, os.environ)
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
