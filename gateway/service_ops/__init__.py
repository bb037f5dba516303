"""Running the gateway as a service: binding, readiness, health, metrics, operational logs.

What `gateway serve` needs beyond the channels themselves, each in a module of its own, so that
the command stays a short list of steps in the order that makes a failed start harmless.
"""
