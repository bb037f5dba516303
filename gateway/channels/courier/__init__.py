"""The courier channel: encrypted media, custody records (確認書), returns, losses."""
