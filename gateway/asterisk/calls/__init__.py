"""Call tracking: the call-leg state machine (a pure transition function) and the tracker that
turns events into its inputs and runs its commands."""
