"""What the console's buttons should allow, derived from the server's own tables.

The lifecycle table (:data:`pacing.lifecycle.TRANSITIONS`), each route's permission
(:data:`control_api.app.ROUTES`) and the role matrix (:data:`control_api.auth.MATRIX`) are the
authority; the console keeps a copy of them in ``app.js`` (``RULES``). The static test checks
that copy against these tables and the browser tests check the buttons against them, so a
change on either side that the other does not follow fails a test.

Pure: no browser, no database.
"""

from __future__ import annotations

from control_api.app import ROUTES
from control_api.auth import MATRIX, Permission
from gateway.db.models import Role
from pacing.lifecycle import TRANSITIONS, CampaignState, Operation

# The console's name of each operation -> the lifecycle operation and its route.
OPERATIONS: dict[str, tuple[Operation, str, str]] = {
    "start": (Operation.START, "POST", "/start"),
    "stop": (Operation.STOP, "POST", "/stop"),
    "pause": (Operation.PAUSE, "POST", "/pause"),
    "resume": (Operation.RESUME, "POST", "/resume"),
    "reset": (Operation.RESET, "POST", "/reset"),
    "force": (Operation.FORCE_COMPLETE, "POST", "/force-complete"),
    "upload": (Operation.ADD_DATA, "POST", "/records"),
    "download": (Operation.DOWNLOAD, "GET", "/records/export"),
    "delete": (Operation.DELETE_RECORDS, "DELETE", "/records"),
}
# The toolbar's buttons (``#op-<name>``); ``startstop`` is Stop while the campaign can stop.
BUTTONS = ("startstop", "pause", "resume", "reset", "force", "upload", "download", "delete")


def states_of(op: str) -> frozenset[str]:
    """The states the lifecycle table allows ``op`` from."""
    operation = OPERATIONS[op][0]
    return frozenset(str(s) for s, o in TRANSITIONS if o is operation)


def permission_of(op: str) -> Permission:
    """The permission the API's route for ``op`` requires."""
    _, method, suffix = OPERATIONS[op]
    path = f"/campaigns/{{id}}{suffix}"
    (route,) = (r for r in ROUTES if r.method == method and r.path == path)
    return route.permission


def enabled(state: CampaignState | str, role: Role, *, resume_owner: bool) -> frozenset[str]:
    """The toolbar buttons that should be enabled for ``role`` when the campaign is ``state``.

    Resume is further limited to the campaign's resume owner unless the caller is an admin.
    """
    toggle = "stop" if str(state) in states_of("stop") else "start"
    names = {button: (toggle if button == "startstop" else button) for button in BUTTONS}
    out = set()
    for button, op in names.items():
        if str(state) not in states_of(op) or role not in MATRIX[permission_of(op)]:
            continue
        if op == "resume" and role is not Role.ADMIN and not resume_owner:
            continue
        out.add(button)
    return frozenset(out)
