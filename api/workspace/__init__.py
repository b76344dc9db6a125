"""The case handlers' workspace: their work, their cases and the actions they may take."""
