"""Robson entry_gate service."""
