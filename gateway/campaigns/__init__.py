"""The campaign domain: campaigns, records, governance, leasing and attempt persistence; all their
SQL."""
