"""forecast_warning family recipes."""
