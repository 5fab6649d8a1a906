"""Marshmallow schemas: the wire whitelist. Server-owned fields are dump-only; admin input rejects unknown fields."""
