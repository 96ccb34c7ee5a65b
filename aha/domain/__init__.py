"""The case rules, pure: no Temporal, no database, no mail, no HTTP, no files.

Everything here takes its inputs, time included, as arguments and returns its decisions,
so each rule is tested in microseconds, without a server.
"""
