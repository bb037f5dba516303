"""Synthetic data for rehearsals and tests (Faker ja_JP): never real people."""
from gateway.synthetic.recipients import Generated, generate_recipients

__all__ = ["Generated", "generate_recipients"]
