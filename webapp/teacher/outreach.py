"""Reminders and invitations by SMS, with their statuses and history."""
