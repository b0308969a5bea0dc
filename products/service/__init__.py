"""service family recipes."""
