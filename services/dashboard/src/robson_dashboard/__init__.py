"""Robson web dashboard: a backend-for-frontend serving the trader's UI"""
