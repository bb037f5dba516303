"""The VPN line (Kurume 2020: "only for the initial set-up of resident data"), emulated as SFTP."""
