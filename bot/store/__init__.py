"""The shared store: dedupe keys, claims, alert threads, acknowledgements (and, later, audit).

SQLAlchemy over SQLite by default (one replica) or PostgreSQL via GPUBOT_DATABASE_URL (several
replicas share it); the schema is managed by Alembic migrations shipped in the package.
"""
