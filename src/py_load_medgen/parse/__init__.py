"""Bytes to rows the database can ingest: header detection and block-wise encoding."""
