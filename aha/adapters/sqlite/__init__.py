"""The directory, the programme's records, the delivery ledger and page sign-outs in one
SQLite file (`AHA_DB`); `schema` owns every table of it."""
