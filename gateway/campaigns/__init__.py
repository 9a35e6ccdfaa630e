"""The campaign domain: campaigns, records, governance, audit, imports, exports' data, the webhook
outbox, API tokens, caller IDs, leasing and attempt persistence; all their SQL. No HTTP here."""
