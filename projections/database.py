"""The connection wrapper's former home: it is storage/database.py now.

Kept so that code importing the old path still runs; new code imports storage.database.
"""

from storage.database import (  # noqa: F401
    BULK_CHECKPOINT_PAGES,
    BUSY_TIMEOUT_MS,
    CACHE_KIB,
    WAL_CHECKPOINT_PAGES,
    Cursor,
    Database,
    DatabaseBusy,
    Row,
    retry_busy,
)
