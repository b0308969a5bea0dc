"""observation family recipes."""
