"""The file-exchange gateway: hands resident data to print contractors under council approvals."""
__version__ = "0.1.0"
