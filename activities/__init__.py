"""All I/O of the workflows: read-model projection, audit, notifications, linked-case search."""
