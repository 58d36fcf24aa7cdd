"""What happened. Other apps write here only through ``audit.services.record``."""
