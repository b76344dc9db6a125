"""The managers' web dashboard (server-rendered)."""
