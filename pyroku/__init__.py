"""Pyroku: a self-hosted platform-as-a-service in the Heroku mould."""

__version__ = "0.1.0"
