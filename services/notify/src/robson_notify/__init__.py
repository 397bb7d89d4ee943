"""Robson notify service: events to people through Apprise"""
