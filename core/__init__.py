"""Settings, the Temporal client and the database engine: built once, shared by all."""
