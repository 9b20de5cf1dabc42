"""The package center as web pages: a thin front door over the shared use cases."""
