"""Delivery: when each chat's digest is due, what goes into its outbox, and sending it to
Telegram within its limits; also on-demand digests, subscriptions and feed alerts."""
