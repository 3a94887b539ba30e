"""Notifications: the outbox, signed webhooks, Slack messages and their delivery."""
