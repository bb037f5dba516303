"""Printable documents for people: the password notice (パスワード通知書)."""
