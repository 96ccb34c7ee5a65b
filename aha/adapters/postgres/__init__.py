"""The directory, the programme's records, the delivery ledger and page sign-outs in a
PostgreSQL database (`AHA_DB` a `postgresql://` URL), behind the same ports as the SQLite
stores; `migrations` owns every table, applied by `aha db upgrade`."""
