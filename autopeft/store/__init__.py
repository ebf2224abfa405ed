"""A study on disk: the store (``study``, the only module that reads or writes the database, and
every key it keeps), the typed records it hands out, opening the database, and the lock."""
