"""Pure functions: which articles a subscriber gets, merged into stories, rendered for Telegram."""
