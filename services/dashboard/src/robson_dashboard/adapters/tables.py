"""The dashboard keeps nothing of its own in the database: its schema holds only the kit's
inbox/outbox, so it is migrated, checked (`/readyz`) and operated like every other service."""

from sqlalchemy import MetaData

metadata = MetaData()
