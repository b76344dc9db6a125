"""The protocol as a pure state machine (`lifecycle`), and the durable workflow that runs it."""
