"""The `intercept` command line."""
