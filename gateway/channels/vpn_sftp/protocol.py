"""paramiko's SFTP server with the one OpenSSH extension that matters for speed, and without the
ones we do not want.

`limits@openssh.com`: the stock OpenSSH `sftp` client asks a server that offers it how large a
read or write may be, and then uses up to 255 KiB per request instead of 32 KiB: eight times fewer
requests through paramiko's per-request Python, which is what bounds its throughput.
READ replies are built in place (`_read`): paramiko's own path copies each 255 KiB of data about
four times (bytes from pread, into a Message, out of it, into the framed packet), and each fresh
255 KiB buffer is its own mmap with page faults on first touch. Here a handle that can
`read_into` a buffer fills one reused buffer behind the reply's 13-byte header, and that buffer
goes to the channel as it is. Only the SFTP framing is ours; SSH packets, their encryption and
sequence numbers stay entirely paramiko's (`Channel.send`).
What still bounds a download (py-spy, 45 MB package): the stock client accepts at most 32 KiB per
channel packet, and each packet goes through paramiko's Python (Channel._send, Transport's
send lock, Packetizer: framing copies, padding, AES-GCM, one send()) - about three quarters of
this thread's GIL time. Going further means fewer Python steps per packet inside paramiko, not
anything an SFTP server can choose.
Requests are read from the channel in large pieces (`_read_packet`): paramiko's own reads 4 bytes,
then the rest, each through the channel's buffer, whose every read moves all the bytes still
buffered behind it to the front (`del buffer[:n]` on an array); with a fast uploader filling the
window that move was an eighth of the server's upload time (py-spy).
Not offered: `check-file` (paramiko advertises it with MD5/SHA-1 and would hash whole packages on
request) and `posix-rename@openssh.com` (the jail refuses renames anyway).
"""
from __future__ import annotations

import struct
from typing import Any

import paramiko
from paramiko.message import Message
from paramiko.sftp import (
    CMD_DATA,
    CMD_EXTENDED,
    CMD_EXTENDED_REPLY,
    CMD_INIT,
    CMD_READ,
    CMD_VERSION,
    SFTP_BAD_MESSAGE,
    SFTP_EOF,
    SFTP_FAILURE,
    SFTP_OP_UNSUPPORTED,
    SFTPError,
)

SFTP_VERSION = 3
MAX_PACKET = 256 * 1024  # what OpenSSH's sftp-server allows (SFTP_MAX_MSG_LENGTH)
MAX_READ = MAX_PACKET - 1024  # room for the DATA reply's header
MAX_WRITE = MAX_PACKET - 1024
# How much of the channel's buffer one read takes: several WRITE requests at a time.
RECV_CHUNK = 1024 * 1024
MAX_HANDLES = 0  # "no limit": a non-zero value would also cap the client's requests in flight
# A DATA reply's framing: SFTP packet length, type, request id, data length.
_DATA_HEADER = struct.Struct(">IBII")



class GatewaySftpServer(paramiko.SFTPServer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The one reply buffer of this session: requests are handled one at a time in this
        # thread, and Channel.send has copied the bytes into its own packet before it returns.
        self._reply = bytearray(_DATA_HEADER.size + MAX_READ)
        self._inbox = bytearray()  # bytes read from the channel, not yet handed out as packets
        self._at = 0  # where the next packet starts in _inbox

    def _fill(self, n: int) -> None:
        """Until _inbox holds n bytes from _at on; EOFError when the channel closes first."""
        if self._at:
            del self._inbox[:self._at]  # once per channel read, not once per packet
            self._at = 0
        while len(self._inbox) < n:
            data = self.sock.recv(max(RECV_CHUNK, n - len(self._inbox)))
            if not data:
                raise EOFError()
            self._inbox += data

    def _read_packet(self) -> tuple[int, bytes]:
        # As BaseSFTP._read_packet, from our own buffer (see the module's docstring).
        if len(self._inbox) - self._at < 4:
            self._fill(4)
        if self._inbox[self._at]:  # paramiko's check, kept as it is: a length of 16 MB or more
            raise SFTPError("Garbage packet received")
        size = int.from_bytes(self._inbox[self._at:self._at + 4], "big")
        if len(self._inbox) - self._at < 4 + size:
            self._fill(4 + size)
        start = self._at + 4
        self._at = start + size
        if size == 0:
            return 0, b""
        return self._inbox[start], bytes(self._inbox[start + 1:self._at])

    def _send_server_version(self) -> int:
        # As paramiko's, with our extension list. Wait for INIT first (WinSCP needs that order).
        t, data = self._read_packet()
        if t != CMD_INIT:
            raise SFTPError("Incompatible sftp protocol")
        version = int(struct.unpack(">I", data[:4])[0])
        msg = Message()
        msg.add_int(SFTP_VERSION)
        msg.add_string("limits@openssh.com")
        msg.add_string("1")
        self._send_packet(CMD_VERSION, msg)
        return version

    def _write_all(self, out: bytes | memoryview) -> None:
        # paramiko's own slices `out = out[n:]` after each channel packet (32 KiB): for a 255 KiB
        # DATA reply that copies about 1 MB. A memoryview slices without copying.
        view = memoryview(out)
        while view:
            n = self.sock.send(view)
            if n <= 0:
                raise EOFError()
            view = view[n:]

    def _process(self, t: int, request_number: int, msg: Message) -> None:
        if t == CMD_READ:
            self._read(request_number, msg)
            return
        if t != CMD_EXTENDED:
            super()._process(t, request_number, msg)
            return
        if msg.get_text() == "limits@openssh.com":
            reply = Message()
            reply.add_int(request_number)
            for value in (MAX_PACKET, MAX_READ, MAX_WRITE, MAX_HANDLES):
                reply.add_int64(value)
            self._send_packet(CMD_EXTENDED_REPLY, reply)
        else:
            self._send_status(request_number, SFTP_OP_UNSUPPORTED)

    def _read(self, request_number: int, msg: Message) -> None:
        """CMD_READ as paramiko answers it, with the length capped at what we advertise: a client
        asking for 4 GiB at once would otherwise have us allocate 4 GiB (a short read is legal).
        A handle with `read_into(offset, view)` writes into our reply buffer and returns how many
        bytes it wrote (0 at the end of the file) or None when it cannot be read."""
        handle = msg.get_binary()
        offset = msg.get_int64()
        length = min(msg.get_int(), MAX_READ)
        f = self.file_table.get(handle)
        if f is None:
            self._send_status(request_number, SFTP_BAD_MESSAGE, "Invalid handle")
            return
        if not hasattr(f, "read_into"):  # an upload's handle: paramiko's answer (unsupported)
            data = f.read(offset, length)
            if isinstance(data, (bytes, str)):
                if len(data) == 0:
                    self._send_status(request_number, SFTP_EOF)
                else:
                    self._response(request_number, CMD_DATA, data)
            else:
                self._send_status(request_number, data)
            return
        reply = memoryview(self._reply)
        n = f.read_into(offset, reply[_DATA_HEADER.size:_DATA_HEADER.size + length])
        if n is None:
            self._send_status(request_number, SFTP_FAILURE)
        elif n == 0:
            self._send_status(request_number, SFTP_EOF)
        else:
            _DATA_HEADER.pack_into(reply, 0, _DATA_HEADER.size - 4 + n, CMD_DATA, request_number, n)
            self._write_all(reply[:_DATA_HEADER.size + n])
