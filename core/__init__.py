"""Below every stage: settings from the environment and translations."""
