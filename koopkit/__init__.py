from koopkit._errors import KoopkitError

__all__ = ["KoopkitError"]
__version__ = "0.1.0"
