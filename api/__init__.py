"""The HTTP API: talks only to Temporal and the read model; business rules live in lifecycle."""
