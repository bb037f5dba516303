"""The independent auditor: verifies a gateway's exported evidence offline.

It never imports `gateway`: an auditor that trusted the gateway's code would prove nothing.
"""
__version__ = "0.1.0"
