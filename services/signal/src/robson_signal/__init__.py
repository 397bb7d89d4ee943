"""Robson signal service."""
