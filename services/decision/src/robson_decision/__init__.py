"""Robson decision service."""
