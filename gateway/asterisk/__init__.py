"""The Asterisk edge: AMI and ARI links, call tracking, the server pool, agents, input safety."""
