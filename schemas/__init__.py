"""What a valid customer is: normalisers, pandera schemas, payloads, plans, reports (pure)."""
