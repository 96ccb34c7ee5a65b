"""The ports' implementations: SQLite storage, SMTP mail, the dialers, and Temporal."""
