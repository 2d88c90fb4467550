"""The terminal adapter: the criteria chat on the embedded defaults (no Slack needed)."""
