"""Call tracking: the call-leg state machine and the tracker that turns events into outcomes."""
