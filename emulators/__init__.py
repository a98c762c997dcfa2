"""Offline stand-ins for Google, Microsoft and Exchange, built from their published references."""
