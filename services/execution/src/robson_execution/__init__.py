"""Robson execution service."""
