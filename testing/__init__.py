"""Test support shared by tests/ and bench/: fakes of what the bot talks to, and builders of
test data. Not part of the installed package; nothing in the product imports it."""
