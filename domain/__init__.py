"""The intercept domain: pure decisions and events, no infrastructure."""
