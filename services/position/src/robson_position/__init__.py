"""Robson position service."""
