"""Tamper evidence: hash chains over the recorded events, and their verification."""
