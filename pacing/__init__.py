"""The dialing core: campaign lifecycle, schedules, caller-ID choice, eligibility, pacing, guards.

Decisions here are pure functions of a snapshot and ``now``: no await, no database, no clock read.
The runner gathers snapshots and carries decisions out through the gateway.
"""
