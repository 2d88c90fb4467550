"""The Slack adapter (slack-bolt, async): Socket Mode by default, HTTP as an option."""
