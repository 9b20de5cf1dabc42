"""The HTTP front door: merchant commands, package-center queries, signed carrier callbacks."""
