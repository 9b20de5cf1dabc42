"""The API's routes, one resource a module."""
