"""The AMI edge: a pure parser, typed events, and the one adapter that owns the TCP link."""
