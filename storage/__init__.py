"""Low-level storage shared by every layer: the SQL dialects and a small connection wrapper.

It imports nothing else of the project, so projections/ and consumers/ may use it as
well as the event store adapter in engine/store/.
"""
