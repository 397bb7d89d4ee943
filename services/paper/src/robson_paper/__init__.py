"""Robson paper service."""
