"""Outbound transports, one interface (bot.messages.Transport), like Django's email backends."""
