"""listener: social listening and third-party review monitoring."""

__version__ = "0.1.0"
