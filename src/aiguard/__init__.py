"""aiguard: know where external-model output enters your repositories."""

__version__ = "0.1.0"
